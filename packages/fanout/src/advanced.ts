// @mkvserve/fanout/advanced: the building blocks under LiveStream, for callers that cluster or keep
// history themselves. Less stable than the main entry: they change when LiveStream needs them to.

export { Clusterer, primaryVideoTrack } from './clusterer.js';
export type { ClustererOptions, PlacedBlock } from './clusterer.js';
export { History, Cluster } from './history.js';
export type { Epoch, HistoryLimits } from './history.js';
export { declaredHeader, validTrackNumber } from './layout.js';
export type { DeclaredHeader } from './layout.js';
