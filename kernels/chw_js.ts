/**
 * The TypeScript backend's CHW operators: depthwise convolution, first-layer convolution,
 * global average pooling and add, over plain Float32Arrays whose shapes the caller checked.
 * Like the WebAssembly kernels, the windowed operators copy each input plane into a
 * zero-bordered buffer first, so the inner loops have no edge tests.
 * @module
 */
import type { Window } from "./spatial.ts";

/** Rows and columns of the zero-bordered copy of one input plane that the window reads. */
function paddedSize(w: Window): [number, number] {
  return [(w.outHeight - 1) * w.stride + w.kernel, (w.outWidth - 1) * w.stride + w.kernel];
}

/**
 * Copies rows of `depth` interleaved values from `src` (a `height x width x depth` image at
 * `offset`) into `dst` (`ph x pw x depth`, zeroed) shifted by the window's top/left padding,
 * dropping what falls outside.
 */
function pad(
  src: Float32Array,
  offset: number,
  w: Window,
  depth: number,
  dst: Float32Array,
  pw: number,
  ph: number,
): void {
  dst.fill(0);
  const cols = Math.min(w.width, pw - w.padLeft);
  for (let y = 0; y < w.height; y++) {
    const py = y + w.padTop;
    if (py >= ph) break;
    const from = offset + y * w.width * depth;
    dst.set(src.subarray(from, from + cols * depth), (py * pw + w.padLeft) * depth);
  }
}

/** @internal Depthwise convolution, see `Backend.depthwise`; `y` is fully written. */
export function depthwiseJs(
  x: Float32Array,
  weights: Float32Array,
  bias: Float32Array | undefined,
  y: Float32Array,
  channels: number,
  w: Window,
): void {
  const { kernel: k, stride: s, outHeight: oh, outWidth: ow } = w;
  if (oh * ow === 0) return;
  const [ph, pw] = paddedSize(w);
  const buf = new Float32Array(ph * pw);
  const area = w.height * w.width;
  let o = 0;
  for (let c = 0; c < channels; c++) {
    const b = bias === undefined ? 0 : bias[c];
    const wc = c * k * k;
    for (let n = 0; n < w.batch; n++) {
      pad(x, (c * w.batch + n) * area, w, 1, buf, pw, ph);
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          let acc = b;
          let row = oy * s * pw + ox * s;
          for (let ky = 0; ky < k; ky++, row += pw) {
            for (let kx = 0; kx < k; kx++) acc += weights[wc + ky * k + kx] * buf[row + kx];
          }
          y[o++] = Math.min(Math.max(acc, w.min), w.max);
        }
      }
    }
  }
}

/** @internal First-layer convolution (HWC in, CHW out), see `Backend.conv2d`. */
export function conv2dJs(
  x: Float32Array,
  weights: Float32Array,
  bias: Float32Array | undefined,
  y: Float32Array,
  cout: number,
  cin: number,
  w: Window,
): void {
  const { kernel: k, stride: s, outHeight: oh, outWidth: ow, batch } = w;
  const plane = oh * ow;
  if (plane === 0) return;
  const [ph, pw] = paddedSize(w);
  const buf = new Float32Array(ph * pw * cin);
  const taps = k * k * cin;
  for (let n = 0; n < batch; n++) {
    pad(x, n * w.height * w.width * cin, w, cin, buf, pw, ph);
    for (let o = 0; o < cout; o++) {
      const wo = o * taps;
      let out = (o * batch + n) * plane;
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          let acc = bias === undefined ? 0 : bias[o];
          let t = 0;
          for (let ky = 0; ky < k; ky++) {
            // One window row is k*cin consecutive values of the padded image.
            const start = ((oy * s + ky) * pw + ox * s) * cin;
            for (let i = 0; i < k * cin; i++) acc += weights[wo + t++] * buf[start + i];
          }
          y[out++] = Math.min(Math.max(acc, w.min), w.max);
        }
      }
    }
  }
}

/** @internal Global average pooling of `[rows x batch*pixels]` into `[rows x batch]`. */
export function globalAvgPoolJs(
  x: Float32Array,
  y: Float32Array,
  rows: number,
  batch: number,
  pixels: number,
): void {
  for (let i = 0; i < rows * batch; i++) {
    let acc = 0;
    for (let p = i * pixels; p < (i + 1) * pixels; p++) acc += x[p];
    y[i] = pixels === 0 ? 0 : acc / pixels;
  }
}

/** @internal `y = clamp(a + b)`; `y` may be `a` or `b`. */
export function addJs(
  a: Float32Array,
  b: Float32Array,
  y: Float32Array,
  min: number,
  max: number,
): void {
  for (let i = 0; i < y.length; i++) y[i] = Math.min(Math.max(a[i] + b[i], min), max);
}
