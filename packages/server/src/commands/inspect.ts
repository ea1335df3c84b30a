// `mkvserve inspect`: element tree / summary / frames of a Matroska input (placeholder until the
// EBML reader and demuxer land in @mkvserve/ebml).
export interface InspectOptions {
  input: string;
  offsets?: boolean;
  json?: boolean;
  summary?: boolean;
  frames?: boolean;
  maxFrames?: number;
  duration?: number;
}

export async function runInspect(opts: InspectOptions): Promise<number> {
  void opts;
  process.stderr.write('mkvserve: inspect is not available yet\n');
  return 1;
}
