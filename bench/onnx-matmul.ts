// A MatMul ONNX model, y = A · B with B [K × N] as an initializer (so onnxruntime can pre-pack it, as it would for
// real weights), encoded straight to protobuf: no Python or onnx package needed at bench time.
type Field = number[];
const varint = (v: number): number[] => { const o: number[] = []; while (v > 127) { o.push((v & 127) | 128); v = Math.floor(v / 128); } o.push(v); return o; };
const key = (field: number, wire: number) => varint(field * 8 + wire);
const vint = (field: number, v: number): Field => [...key(field, 0), ...varint(v)];
const bytes = (field: number, b: ArrayLike<number>): Field => [...key(field, 2), ...varint(b.length), ...Array.from(b)];
const str = (field: number, s: string): Field => bytes(field, new TextEncoder().encode(s));
const msg = (field: number, ...parts: Field[]): Field => bytes(field, parts.flat());

function valueInfo(field: number, name: string, dims: number[]): Field {
  return msg(field, str(1, name), msg(2, msg(1, vint(1, 1), msg(2, ...dims.map((d) => msg(1, vint(1, d)))))));
}

export function matmulModel(M: number, K: number, N: number, b: Float32Array): Uint8Array {
  const raw = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  const head = [
    ...vint(1, 8),                                                     // ir_version
    ...msg(8, str(1, ''), vint(2, 13)),                                // opset_import
  ];
  const node = msg(1, str(1, 'A'), str(1, 'B'), str(2, 'C'), str(4, 'MatMul'));
  const init = [...key(5, 2)];
  const tensorBody = [...vint(1, K), ...vint(1, N), ...vint(2, 1), ...str(8, 'B')];
  // raw_data is large: assemble without spreading it through number arrays
  const rawHead = [...key(9, 2), ...varint(raw.length)];
  const tensorLen = tensorBody.length + rawHead.length + raw.length;
  const graphParts: (number[] | Uint8Array)[] = [node, str(2, 'matmul'), init, varint(tensorLen), tensorBody, rawHead, raw,
    valueInfo(11, 'A', [M, K]), valueInfo(12, 'C', [M, N])];
  const graphLen = graphParts.reduce((s, p) => s + p.length, 0);
  const graphHead = [...key(7, 2), ...varint(graphLen)];
  const total = head.length + graphHead.length + graphLen;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of [head, graphHead, ...graphParts]) { out.set(p, at); at += p.length; }
  return out;
}
