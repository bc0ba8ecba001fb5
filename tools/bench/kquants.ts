// A simple quantiser to ggml's Q4_K and Q6_K block formats (layouts in native/src/quants.h), for the benchmark's
// Q4_K_M-shaped file: per sub-block min/max (Q4_K) or signed max (Q6_K), 6-bit / 8-bit sub-block scales, no search
// for the error-minimising scale as llama-quantize does. The bytes are valid blocks any ggml reader decodes.
const f32 = new Float32Array(1)
const u32 = new Uint32Array(f32.buffer)

/** fp32 → fp16 bits, round to nearest even (normal range and subnormals; the scales here are small positives). */
export function toHalf(v: number): number {
  f32[0] = v
  const x = u32[0]
  const sign = (x >>> 16) & 0x8000
  const e8 = (x >>> 23) & 0xff
  const exp = e8 - 127 + 15
  const man = x & 0x7fffff
  if (e8 === 0xff) return sign | 0x7c00 | (man ? 0x200 : 0)
  if (exp >= 31) return sign | 0x7c00
  if (exp <= 0) {
    if (exp < -10) return sign
    const m = man | 0x800000
    const shift = 14 - exp
    let half = m >>> shift
    const rem = m & ((1 << shift) - 1)
    const mid = 1 << (shift - 1)
    if (rem > mid || (rem === mid && half & 1)) half++
    return sign | half
  }
  let h = sign | (exp << 10) | (man >>> 13)
  const rem = man & 0x1fff
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++
  return h
}

export function fromHalf(h: number): number {
  const s = h & 0x8000 ? -1 : 1
  const e = (h >> 10) & 0x1f
  const m = h & 0x3ff
  if (e === 0) return s * m * 2 ** -24
  if (e === 31) return m ? NaN : s * Infinity
  return s * (1 + m / 1024) * 2 ** (e - 15)
}

const sc8 = new Int32Array(8)
const mn8 = new Int32Array(8)
const scaleF = new Float64Array(16)
const minF = new Float64Array(8)
const qbuf = new Uint8Array(256)

/** 256 weights at x[o …] → one 144-byte Q4_K block at out[at …] */
export function quantiseQ4K(x: Float32Array, o: number, out: Uint8Array, at: number): void {
  let smax = 0, mmax = 0
  for (let j = 0; j < 8; j++) {
    let lo = 0, hi = -Infinity
    for (let i = 0; i < 32; i++) {
      const v = x[o + 32 * j + i]
      if (v < lo) lo = v
      if (v > hi) hi = v
    }
    scaleF[j] = (hi - lo) / 15
    minF[j] = -lo
    if (scaleF[j] > smax) smax = scaleF[j]
    if (minF[j] > mmax) mmax = minF[j]
  }
  const dh = toHalf(smax / 63), mh = toHalf(mmax / 63)
  const d = fromHalf(dh), dmin = fromHalf(mh)
  for (let j = 0; j < 8; j++) {
    sc8[j] = d ? Math.min(63, Math.round(scaleF[j] / d)) : 0
    mn8[j] = dmin ? Math.min(63, Math.round(minF[j] / dmin)) : 0
    const s = d * sc8[j], m = dmin * mn8[j]
    for (let i = 0; i < 32; i++) {
      const q = s ? Math.round((x[o + 32 * j + i] + m) / s) : 0
      qbuf[32 * j + i] = q < 0 ? 0 : q > 15 ? 15 : q
    }
  }
  out[at] = dh & 0xff; out[at + 1] = dh >> 8
  out[at + 2] = mh & 0xff; out[at + 3] = mh >> 8
  for (let j = 0; j < 4; j++) {
    out[at + 4 + j] = (sc8[j] & 63) | ((sc8[j + 4] >> 4) << 6)
    out[at + 8 + j] = (mn8[j] & 63) | ((mn8[j + 4] >> 4) << 6)
    out[at + 12 + j] = (sc8[j + 4] & 0xf) | ((mn8[j + 4] & 0xf) << 4)
  }
  for (let c = 0; c < 4; c++)
    for (let l = 0; l < 32; l++) out[at + 16 + 32 * c + l] = qbuf[64 * c + l] | (qbuf[64 * c + 32 + l] << 4)
}

const sc16 = new Int32Array(16)

/** 256 weights at x[o …] → one 210-byte Q6_K block at out[at …] */
export function quantiseQ6K(x: Float32Array, o: number, out: Uint8Array, at: number): void {
  let amaxAll = 0
  for (let j = 0; j < 16; j++) {
    let amax = 0, max = 0
    for (let i = 0; i < 16; i++) {
      const v = x[o + 16 * j + i]
      if (Math.abs(v) > amax) { amax = Math.abs(v); max = v }
    }
    scaleF[j] = max / -32
    if (Math.abs(scaleF[j]) > amaxAll) amaxAll = Math.abs(scaleF[j])
  }
  const dh = toHalf(amaxAll / 127)
  const d = fromHalf(dh)
  for (let j = 0; j < 16; j++) {
    sc16[j] = d ? Math.max(-128, Math.min(127, Math.round(scaleF[j] / d))) : 0
    const s = d * sc16[j]
    for (let i = 0; i < 16; i++) {
      const q = s ? Math.round(x[o + 16 * j + i] / s) + 32 : 32
      qbuf[16 * j + i] = q < 0 ? 0 : q > 63 ? 63 : q
    }
  }
  for (let n = 0; n < 2; n++)
    for (let l = 0; l < 32; l++) {
      const b = 128 * n + l
      out[at + 64 * n + l] = (qbuf[b] & 0xf) | ((qbuf[b + 64] & 0xf) << 4)
      out[at + 64 * n + l + 32] = (qbuf[b + 32] & 0xf) | ((qbuf[b + 96] & 0xf) << 4)
      out[at + 128 + 32 * n + l] = (qbuf[b] >> 4) | ((qbuf[b + 32] >> 4) << 2) | ((qbuf[b + 64] >> 4) << 4) | ((qbuf[b + 96] >> 4) << 6)
    }
  for (let j = 0; j < 16; j++) out[at + 192 + j] = sc16[j] & 0xff
  out[at + 208] = dh & 0xff
  out[at + 209] = dh >> 8
}
