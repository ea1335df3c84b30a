// `mkvserve remux`: any Matroska/WebM input -> a clean seekable file (placeholder until the demuxer
// and muxer land in @mkvserve/ebml).
export interface RemuxOptions {
  input: string;
  output: string;
  progress?: boolean;
}

export async function runRemux(opts: RemuxOptions): Promise<number> {
  void opts;
  process.stderr.write('mkvserve: remux is not available yet\n');
  return 1;
}
