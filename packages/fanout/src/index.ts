// @mkvserve/fanout: live Matroska fanout. Header + frames in; one shared, keyframe-clustered live
// stream out, with a bounded shared history and subscribers that are cursors into it.

export { LiveStream, sameStreamLayout } from './live-stream.js';
export type { LiveStreamOptions, LiveStreamStats, CheckResult } from './live-stream.js';
export { Subscriber } from './subscriber.js';
export type { JoinMode, SubscriberState, DropReason, SubscribeOptions } from './subscriber.js';
export { Clusterer, primaryVideoTrack } from './clusterer.js';
export type { ClustererOptions, PlacedBlock } from './clusterer.js';
export { History, Cluster } from './history.js';
export type { Epoch, HistoryLimits } from './history.js';
