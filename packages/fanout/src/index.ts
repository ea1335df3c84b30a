// @mkvserve/fanout: live Matroska fanout. Header + frames in; one shared, keyframe-clustered live
// stream out, with a bounded shared history and subscribers that are cursors into it.
// Building blocks (Clusterer, History, Cluster, ...) are behind '@mkvserve/fanout/advanced'.

export { LiveStream } from './live-stream.js';
export type { LiveStreamOptions, LiveStreamStats, CheckResult } from './live-stream.js';
export { Subscriber } from './subscriber.js';
export { PullShare } from './pull-share.js';
export type { JoinMode, SubscriberState, DropReason, FinishReason, SubscribeOptions } from './subscriber.js';
export { sameStreamLayout } from './layout.js';
