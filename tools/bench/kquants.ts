// Quantisers to ggml's block formats (layouts in native/src/quants.h), in two kinds:
// - quantiseQ4K / quantiseQ6K: simple ones for the benchmark's Q4_K_M-shaped file and the tests' files: per
//   sub-block min/max (Q4_K) or signed max (Q6_K), 6-bit / 8-bit sub-block scales, no search for the
//   error-minimising scale as llama-quantize does. The bytes are valid blocks any ggml reader decodes.
// - quantiseQ4_0Ref / quantiseQ5_0Ref / quantiseQ5_1Ref / quantiseQ3KRef / quantiseQ4KRef / quantiseQ5KRef /
//   quantiseQ6KRef (below): ggml's reference quantisers, the independent check
//   of what GGUF export writes.
import { halfToFloat } from '../../test/half'

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
  const d = halfToFloat(dh), dmin = halfToFloat(mh)
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
  const d = halfToFloat(dh)
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

// ggml's reference quantisers (quantize_row_q4_0_ref, quantize_row_q4_K_ref, quantize_row_q6_K_ref in ggml-quants.c,
// what llama-quantize runs without an importance matrix), ported from their description to TypeScript: every
// operation is an fp32 operation (Math.fround after each, in the reference's order), so these give the reference's
// bytes. They are the independent check of the engine's own quantisers (native/src/quantise.cpp), which GGUF export
// runs (test/engine-gguf-export-quant.test.ts).
const F = Math.fround
const nearestF = new Float32Array(1)
const nearestI = new Int32Array(nearestF.buffer)
/** ggml's nearest_int: the integer left in the low mantissa bits of v + 1.5·2²³ (ties to even) */
function nearestInt(v: number): number {
  nearestF[0] = v + 12582912
  return (nearestI[0] & 0x007fffff) - 0x00400000
}
const clamp = (v: number, lo: number, hi: number): number => (v < lo ? lo : v > hi ? hi : v)
function putHalf(out: Uint8Array, at: number, h: number): void {
  out[at] = h & 0xff
  out[at + 1] = h >> 8
}

/** n weights (n % 32 = 0) at x[o …] → n/32 Q4_0 blocks of 18 bytes at out[at …], as quantize_row_q4_0_ref */
export function quantiseQ4_0Ref(x: Float32Array, o: number, n: number, out: Uint8Array, at: number): void {
  for (let b = 0; b < n / 32; b++, o += 32, at += 18) {
    let amax = 0, max = 0
    for (let j = 0; j < 32; j++)
      if (amax < Math.abs(x[o + j])) { amax = Math.abs(x[o + j]); max = x[o + j] }
    const d = F(max / -8)
    const id = d ? F(1 / d) : 0
    putHalf(out, at, toHalf(d))
    for (let j = 0; j < 16; j++) {
      // C's (int8_t)(float): truncation toward zero, then the low byte as signed; clamped above at 15
      const t0 = (Math.trunc(F(F(x[o + j] * id) + 8.5)) << 24) >> 24
      const t1 = (Math.trunc(F(F(x[o + 16 + j] * id) + 8.5)) << 24) >> 24
      out[at + 2 + j] = (Math.min(15, t0) & 0xff) | ((Math.min(15, t1) << 4) & 0xff)
    }
  }
}

/** n weights (n % 32 = 0) at x[o …] → n/32 Q5_0 blocks of 22 bytes at out[at …], as quantize_row_q5_0_ref (llama.cpp's
 *  fallback for Q4_K where rows are not whole blocks of 256) */
export function quantiseQ5_0Ref(x: Float32Array, o: number, n: number, out: Uint8Array, at: number): void {
  for (let b = 0; b < n / 32; b++, o += 32, at += 22) {
    let amax = 0, max = 0
    for (let j = 0; j < 32; j++)
      if (amax < Math.abs(x[o + j])) { amax = Math.abs(x[o + j]); max = x[o + j] }
    const d = F(max / -16)
    const id = d ? F(1 / d) : 0
    putHalf(out, at, toHalf(d))
    let qh = 0
    for (let j = 0; j < 16; j++) {
      // C's (int8_t)(float), clamped above at 31, then kept as a byte
      const q0 = Math.min(31, (Math.trunc(F(F(x[o + j] * id) + 16.5)) << 24) >> 24) & 0xff
      const q1 = Math.min(31, (Math.trunc(F(F(x[o + 16 + j] * id) + 16.5)) << 24) >> 24) & 0xff
      out[at + 6 + j] = (q0 & 0x0f) | ((q1 & 0x0f) << 4)
      qh |= ((q0 & 0x10) >> 4) << j
      qh |= ((q1 & 0x10) >> 4) << (j + 16)
    }
    for (let k = 0; k < 4; k++) out[at + 2 + k] = (qh >>> (8 * k)) & 0xff
  }
}

const kL = new Uint8Array(256)
const kLaux = new Uint8Array(32)
const kW = new Float32Array(32)
const kScales = new Float32Array(16)
const kMins = new Float32Array(8)

/** make_qkx2_quants with squared error: levels into L[lo …], returns [scale, the_min] */
function makeQkx2(n: number, nmax: number, x: Float32Array, o: number, w: Float32Array, L: Uint8Array, lo: number,
  rmin: number, rdelta: number, nstep: number): [number, number] {
  let min = x[o], max = x[o]
  let sumW = w[0]
  let sumX = F(sumW * x[o])
  for (let i = 1; i < n; i++) {
    if (x[o + i] < min) min = x[o + i]
    if (x[o + i] > max) max = x[o + i]
    sumW = F(sumW + w[i])
    sumX = F(sumX + F(w[i] * x[o + i]))
  }
  if (min > 0) min = 0
  if (max === min) {
    L.fill(0, lo, lo + n)
    return [0, -min]
  }
  let iscale = F(nmax / F(max - min))
  let scale = F(1 / iscale)
  let bestError = 0
  for (let i = 0; i < n; i++) {
    L[lo + i] = clamp(nearestInt(F(iscale * F(x[o + i] - min))), 0, nmax)
    let diff = F(F(F(scale * L[lo + i]) + min) - x[o + i])
    diff = F(diff * diff)
    bestError = F(bestError + F(w[i] * diff))
  }
  for (let is = 0; is <= nstep; is++) {
    iscale = F(F(F(rmin + F(rdelta * is)) + nmax) / F(max - min))
    let sumL = 0, sumL2 = 0, sumXL = 0
    for (let i = 0; i < n; i++) {
      const l = clamp(nearestInt(F(iscale * F(x[o + i] - min))), 0, nmax)
      kLaux[i] = l
      const wl = F(w[i] * l)
      sumL = F(sumL + wl)
      sumL2 = F(sumL2 + F(wl * l))
      sumXL = F(sumXL + F(wl * x[o + i]))
    }
    const D = F(F(sumW * sumL2) - F(sumL * sumL))
    if (D > 0) {
      let thisScale = F(F(F(sumW * sumXL) - F(sumX * sumL)) / D)
      let thisMin = F(F(F(sumL2 * sumX) - F(sumL * sumXL)) / D)
      if (thisMin > 0) {
        thisMin = 0
        thisScale = F(sumXL / sumL2)
      }
      let curError = 0
      for (let i = 0; i < n; i++) {
        let diff = F(F(F(thisScale * kLaux[i]) + thisMin) - x[o + i])
        diff = F(diff * diff)
        curError = F(curError + F(w[i] * diff))
      }
      if (curError < bestError) {
        for (let i = 0; i < n; i++) L[lo + i] = kLaux[i]
        bestError = curError
        scale = thisScale
        min = thisMin
      }
    }
  }
  return [scale, -min]
}

/**
 * The head of a Q4_K / Q5_K block at out[at …] (fp16 d, fp16 dmin, 12 bytes of 6-bit scales and mins) and the levels
 * kL[0‥255] ∈ [0, nmax] of its 256 weights at x[o …]: per 32, the (scale, min) of make_qkx2_quants (rmin and nstep
 * as the type sets them), both rounded to 6 bits against the block's largest, then each weight re-levelled with the
 * rounded pair — as quantize_row_q4_K_ref and quantize_row_q5_K_ref do alike.
 */
function quantiseK4Head(x: Float32Array, o: number, nmax: number, rmin: number, nstep: number, out: Uint8Array, at: number): void {
  let maxScale = 0, maxMin = 0
  for (let j = 0; j < 8; j++) {
    let sumX2 = 0
    for (let l = 0; l < 32; l++) sumX2 = F(sumX2 + F(x[o + 32 * j + l] * x[o + 32 * j + l]))
    const avX = F(Math.sqrt(F(sumX2 / 32)))
    for (let l = 0; l < 32; l++) kW[l] = F(avX + Math.abs(x[o + 32 * j + l]))
    const [s, m] = makeQkx2(32, nmax, x, o + 32 * j, kW, kL, 32 * j, rmin, F(0.1), nstep)
    kScales[j] = s
    kMins[j] = m
    if (s > maxScale) maxScale = s
    if (m > maxMin) maxMin = m
  }
  const invScale = maxScale > 0 ? F(63 / maxScale) : 0
  const invMin = maxMin > 0 ? F(63 / maxMin) : 0
  const sc = new Uint8Array(8), mn = new Uint8Array(8)
  for (let j = 0; j < 8; j++) {
    sc[j] = Math.min(63, nearestInt(F(invScale * kScales[j])) & 0xff)
    mn[j] = Math.min(63, nearestInt(F(invMin * kMins[j])) & 0xff)
  }
  // the 12 bytes as dequantisation reads them (get_scale_min_k4): j < 4 in the low 6 bits of bytes j and j + 4;
  // j ≥ 4 as nibbles of byte j + 4, their top 2 bits in the top of bytes j − 4 (scale) and j (min)
  for (let j = 0; j < 4; j++) {
    out[at + 4 + j] = sc[j] | ((sc[j + 4] >> 4) << 6)
    out[at + 8 + j] = mn[j] | ((mn[j + 4] >> 4) << 6)
    out[at + 12 + j] = (sc[j + 4] & 0xf) | ((mn[j + 4] & 0xf) << 4)
  }
  const dh = toHalf(F(maxScale / 63)), mh = toHalf(F(maxMin / 63))
  putHalf(out, at, dh)
  putHalf(out, at + 2, mh)
  const d0 = F(halfToFloat(dh)), m0 = F(halfToFloat(mh))
  for (let j = 0; j < 8; j++) {
    const d = F(d0 * sc[j])
    if (!d) continue
    const dm = F(m0 * mn[j])
    for (let i = 0; i < 32; i++) kL[32 * j + i] = clamp(nearestInt(F(F(x[o + 32 * j + i] + dm) / d)), 0, nmax)
  }
}

/** n weights (n % 256 = 0) at x[o …] → Q4_K blocks of 144 bytes at out[at …], as quantize_row_q4_K_ref */
export function quantiseQ4KRef(x: Float32Array, o: number, n: number, out: Uint8Array, at: number): void {
  for (let b = 0; b < n / 256; b++, o += 256, at += 144) {
    quantiseK4Head(x, o, 15, -1, 20, out, at)
    for (let c = 0; c < 4; c++)
      for (let l = 0; l < 32; l++) out[at + 16 + 32 * c + l] = kL[64 * c + l] | (kL[64 * c + 32 + l] << 4)
  }
}

const kL6 = new Int8Array(256)

/** make_qx_quants, rmse_type 1, weights x²: levels (signed + nmax) into L[lo …], returns the scale */
function makeQxX2(n: number, nmax: number, x: Float32Array, o: number, L: Int8Array, lo: number): number {
  let max = 0, amax = 0
  for (let i = 0; i < n; i++) {
    const ax = Math.abs(x[o + i])
    if (ax > amax) { amax = ax; max = x[o + i] }
  }
  if (amax < F(1e-15)) {
    L.fill(0, lo, lo + n)
    return 0
  }
  const sums = (iscale: number): [number, number] => {
    let sumlx = 0, suml2 = 0
    for (let i = 0; i < n; i++) {
      const l = clamp(nearestInt(F(iscale * x[o + i])), -nmax, nmax - 1)
      const w = F(x[o + i] * x[o + i])
      sumlx = F(sumlx + F(F(w * x[o + i]) * l))
      suml2 = F(suml2 + F(F(w * l) * l))
    }
    return [sumlx, suml2]
  }
  const levels = (iscale: number): void => {
    for (let i = 0; i < n; i++) L[lo + i] = nmax + clamp(nearestInt(F(iscale * x[o + i])), -nmax, nmax - 1)
  }
  let iscale = F(-nmax / max)
  levels(iscale)
  let [sumlx, suml2] = sums(iscale)
  let scale = suml2 ? F(sumlx / suml2) : 0
  let best = F(scale * sumlx)
  for (let is = -9; is <= 9; is++) {
    if (is === 0) continue
    iscale = F(F(-F(nmax + F(F(0.1) * is))) / max)
    ;[sumlx, suml2] = sums(iscale)
    if (suml2 > 0 && F(sumlx * sumlx) > F(best * suml2)) {
      levels(iscale)
      scale = F(sumlx / suml2)
      best = F(scale * sumlx)
    }
  }
  return scale
}

/** n weights (n % 256 = 0) at x[o …] → Q6_K blocks of 210 bytes at out[at …], as quantize_row_q6_K_ref */
export function quantiseQ6KRef(x: Float32Array, o: number, n: number, out: Uint8Array, at: number): void {
  for (let b = 0; b < n / 256; b++, o += 256, at += 210) {
    let maxScale = 0, maxAbsScale = 0
    for (let ib = 0; ib < 16; ib++) {
      const s = makeQxX2(16, 32, x, o + 16 * ib, kL6, 16 * ib)
      kScales[ib] = s
      if (Math.abs(s) > maxAbsScale) { maxAbsScale = Math.abs(s); maxScale = s }
    }
    if (maxAbsScale < F(1e-15)) {
      out.fill(0, at, at + 210)
      continue
    }
    const iscale = F(-128 / maxScale)
    const dh = toHalf(F(1 / iscale))
    putHalf(out, at + 208, dh)
    const d0 = F(halfToFloat(dh))
    const sc = new Int8Array(16)
    for (let ib = 0; ib < 16; ib++) sc[ib] = Math.min(127, nearestInt(F(iscale * kScales[ib])))
    for (let j = 0; j < 16; j++) {
      out[at + 192 + j] = sc[j] & 0xff
      const d = F(d0 * sc[j])
      if (!d) continue
      for (let i = 0; i < 16; i++) kL6[16 * j + i] = clamp(nearestInt(F(x[o + 16 * j + i] / d)), -32, 31) + 32
    }
    for (let h = 0; h < 2; h++)
      for (let l = 0; l < 32; l++) {
        const q = (k: number): number => kL6[128 * h + l + 32 * k]
        out[at + 64 * h + l] = (q(0) & 0xf) | ((q(2) & 0xf) << 4)
        out[at + 64 * h + l + 32] = (q(1) & 0xf) | ((q(3) & 0xf) << 4)
        out[at + 128 + 32 * h + l] = (q(0) >> 4) | ((q(1) >> 4) << 2) | ((q(2) >> 4) << 4) | ((q(3) >> 4) << 6)
      }
  }
}

// The quantisers of llama.cpp's Q3_K_* and Q5_K_* mixtures (quantize_row_q3_K_ref with make_q3_quants,
// quantize_row_q5_K_ref with make_qkx2_quants, and quantize_row_q5_1_ref, Q5_K's fallback where rows are not whole
// blocks of 256), ported from their description in the same fp32-step style as above.

/** n weights (n % 32 = 0) at x[o …] → n/32 Q5_1 blocks of 24 bytes at out[at …], as quantize_row_q5_1_ref */
export function quantiseQ5_1Ref(x: Float32Array, o: number, n: number, out: Uint8Array, at: number): void {
  for (let b = 0; b < n / 32; b++, o += 32, at += 24) {
    let min = x[o], max = x[o]
    for (let j = 1; j < 32; j++) {
      if (x[o + j] < min) min = x[o + j]
      if (x[o + j] > max) max = x[o + j]
    }
    const d = F(F(max - min) / 31)
    const id = d ? F(1 / d) : 0
    putHalf(out, at, toHalf(d))
    putHalf(out, at + 2, toHalf(min))
    // (x − min)·id + 0.5 converted to a byte by truncation: round half up of a level in 0‥31
    const level = (v: number): number => Math.trunc(F(F(F(v - min) * id) + 0.5)) & 0xff
    let qh = 0
    for (let j = 0; j < 16; j++) {
      const q0 = level(x[o + j]), q1 = level(x[o + 16 + j])
      out[at + 8 + j] = (q0 & 0x0f) | ((q1 & 0x0f) << 4)
      qh |= (q0 >> 4 & 1) << j
      qh |= (q1 >> 4 & 1) << (j + 16)
    }
    for (let k = 0; k < 4; k++) out[at + 4 + k] = (qh >>> (8 * k)) & 0xff
  }
}

const kL3 = new Int8Array(256)

/** make_q3_quants with do_rmse (weights x²): signed levels in −nmax‥nmax−1, refined by up to five passes that move
 *  one level to its least-squares place when (Σw·x·l)²/Σw·l² grows; levels + nmax into L[lo …], returns the scale */
function makeQ3Rmse(n: number, nmax: number, x: Float32Array, o: number, L: Int8Array, lo: number): number {
  let max = 0, amax = 0
  for (let i = 0; i < n; i++) {
    const ax = Math.abs(x[o + i])
    if (ax > amax) { amax = ax; max = x[o + i] }
  }
  if (amax < F(1e-15)) {
    L.fill(0, lo, lo + n)
    return 0
  }
  const iscale = F(-nmax / max)
  const lv = new Int32Array(n)
  const wx = new Float32Array(n) // w·x with w = x²
  const w = new Float32Array(n)
  let sumlx = 0, suml2 = 0
  for (let i = 0; i < n; i++) {
    lv[i] = clamp(nearestInt(F(iscale * x[o + i])), -nmax, nmax - 1)
    w[i] = F(x[o + i] * x[o + i])
    wx[i] = F(w[i] * x[o + i])
    sumlx = F(sumlx + F(wx[i] * lv[i]))
    suml2 = F(suml2 + F(F(w[i] * lv[i]) * lv[i]))
  }
  for (let pass = 0; pass < 5; pass++) {
    let changed = 0
    for (let i = 0; i < n; i++) {
      let slx = F(sumlx - F(wx[i] * lv[i]))
      if (!(slx > 0)) continue
      let sl2 = F(suml2 - F(F(w[i] * lv[i]) * lv[i]))
      const nl = clamp(nearestInt(F(F(x[o + i] * sl2) / slx)), -nmax, nmax - 1)
      if (nl === lv[i]) continue
      slx = F(slx + F(wx[i] * nl))
      sl2 = F(sl2 + F(F(w[i] * nl) * nl))
      if (sl2 > 0 && F(F(slx * slx) * suml2) > F(F(sumlx * sumlx) * sl2)) {
        lv[i] = nl
        sumlx = slx
        suml2 = sl2
        changed++
      }
    }
    if (changed === 0) break
  }
  for (let i = 0; i < n; i++) L[lo + i] = lv[i] + nmax
  return suml2 > 0 ? F(sumlx / suml2) : 0
}

/** n weights (n % 256 = 0) at x[o …] → Q3_K blocks of 110 bytes at out[at …], as quantize_row_q3_K_ref */
export function quantiseQ3KRef(x: Float32Array, o: number, n: number, out: Uint8Array, at: number): void {
  for (let b = 0; b < n / 256; b++, o += 256, at += 110) {
    let maxScale = 0, amax = 0
    for (let j = 0; j < 16; j++) {
      const s = makeQ3Rmse(16, 4, x, o + 16 * j, kL3, 16 * j)
      kScales[j] = s
      if (Math.abs(s) > amax) { amax = Math.abs(s); maxScale = s }
    }
    // the 16 scales as 6-bit integers 0‥63 (scale/d + 32), d = −maxScale/32 stored as fp16
    const six = new Int32Array(16)
    let dh = toHalf(0)
    if (maxScale) {
      const iscale = F(-32 / maxScale)
      // C stores nearest_int's result in an int8 before clamping
      for (let j = 0; j < 16; j++) six[j] = clamp((nearestInt(F(iscale * kScales[j])) << 24) >> 24, -32, 31) + 32
      dh = toHalf(F(1 / iscale))
    }
    const sc = out.subarray(at + 96, at + 108)
    sc.fill(0)
    for (let j = 0; j < 16; j++) {
      sc[j % 8] |= (six[j] & 0xf) << (j < 8 ? 0 : 4)
      sc[8 + (j % 4)] |= (six[j] >> 4) << (2 * Math.floor(j / 4))
    }
    putHalf(out, at + 108, dh)
    const d0 = F(halfToFloat(dh))
    for (let j = 0; j < 16; j++) {
      const d = F(d0 * (six[j] - 32))
      if (!d) continue // the levels of the search stay (an all-zero sub-block's are 0)
      for (let i = 0; i < 16; i++) kL3[16 * j + i] = clamp(nearestInt(F(x[o + 16 * j + i] / d)), -4, 3) + 4
    }
    // the 3rd bit of weight w in bit ⌊w/32⌋ of hmask byte w % 32; the low 2 bits four to a byte, byte l of each
    // 32 holding weights l, l + 32, l + 64, l + 96 of its 128
    out.fill(0, at, at + 96)
    for (let w = 0; w < 256; w++) {
      const q = kL3[w]
      if (q > 3) out[at + (w % 32)] |= 1 << (w >> 5)
      const half = w >> 7, k = (w >> 5) & 3, l = w & 31
      out[at + 32 + 32 * half + l] |= (q & 3) << (2 * k)
    }
  }
}

/** n weights (n % 256 = 0) at x[o …] → Q5_K blocks of 176 bytes at out[at …], as quantize_row_q5_K_ref */
export function quantiseQ5KRef(x: Float32Array, o: number, n: number, out: Uint8Array, at: number): void {
  for (let b = 0; b < n / 256; b++, o += 256, at += 176) {
    quantiseK4Head(x, o, 31, -0.5, 15, out, at)
    // the 5th bit of weight 64·c + l in bit 2c of qh byte l, of weight 64·c + 32 + l in bit 2c + 1; the low nibbles
    // as Q4_K's
    out.fill(0, at + 16, at + 48)
    for (let c = 0; c < 4; c++)
      for (let l = 0; l < 32; l++) {
        const lo = kL[64 * c + l], hi = kL[64 * c + 32 + l]
        out[at + 16 + l] |= ((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1))
        out[at + 48 + 32 * c + l] = (lo & 0xf) | ((hi & 0xf) << 4)
      }
  }
}
