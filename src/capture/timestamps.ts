/**
 * Conversion of capture timestamps to the pipeline's unit, microseconds since the Unix epoch.
 *
 * pcapng stores a 64-bit tick count (two 32-bit halves) in units of 1/unitsPerSecond s. Nanosecond
 * tick counts of today (~1.7e18) exceed 2^53, so the seconds are split off exactly (a corrected
 * double estimate, or long division over 16-bit limbs) instead of going through one lossy double.
 * Results equal the exact BigInt computation (checked by a property test).
 */

const TWO_POW_32 = 4294967296;
const MICROS_EXACT_HIGH_LIMIT = 2 ** 21;
/** Long division over 16-bit limbs stays exact while unitsPerSecond · 2^16 < 2^53. */
const LIMB_DIVISION_LIMIT = 2 ** 37;
/** Below this the double tick count (off by up to 2^10 ticks) could misplace the seconds by more than one. */
const ESTIMATE_MIN_UNITS = 2 ** 12;
/** The corrected remainder must fit a signed 32-bit value: 2u ≤ 2^31. */
const ESTIMATE_MAX_UNITS = 2 ** 30;

/** `if_tsresol`: high bit clear → 10^-v s, set → 2^-(v & 0x7f) s. */
export function unitsPerSecondFromTsresol(tsresol: number): number {
  return tsresol & 0x80 ? 2 ** (tsresol & 0x7f) : 10 ** tsresol;
}

export function ticksToMicros(high: number, low: number, unitsPerSecond: number): number {
  // µs ticks are already the answer while they fit a double exactly (until the year 2255).
  if (unitsPerSecond === 1e6 && high < MICROS_EXACT_HIGH_LIMIT) return high * TWO_POW_32 + low;
  if (unitsPerSecond >= ESTIMATE_MIN_UNITS && unitsPerSecond <= ESTIMATE_MAX_UNITS) {
    return estimateAndCorrect(high, low, unitsPerSecond);
  }
  if (unitsPerSecond >= LIMB_DIVISION_LIMIT) return bigTicksToMicros(high, low, unitsPerSecond);
  return limbDivision(high, low, unitsPerSecond);
}

/**
 * The fast path for ns and similar resolutions. The double estimate of the seconds is off by at most
 * one (the tick count as a double is within 2^10 ticks, under a quarter second here), so the
 * remainder, computed exactly modulo 2^32 from the low words (Math.imul keeps the low 32 bits of the
 * product), lies in [-u, 2u), which fits a signed 32-bit value.
 */
function estimateAndCorrect(high: number, low: number, u: number): number {
  let seconds = Math.floor((high * TWO_POW_32 + low) / u);
  let remainder = (low - Math.imul(seconds, u)) | 0;
  if (remainder < 0) {
    seconds -= 1;
    remainder += u;
  } else if (remainder >= u) {
    seconds += 1;
    remainder -= u;
  }
  return seconds * 1e6 + (remainder * 1e6) / u;
}

function limbDivision(high: number, low: number, unitsPerSecond: number): number {
  const u = unitsPerSecond;
  let current = high >>> 16;
  let quotient = Math.floor(current / u);
  let remainder = current - quotient * u;
  let seconds = quotient;

  current = remainder * 65536 + (high & 0xffff);
  quotient = Math.floor(current / u);
  remainder = current - quotient * u;
  seconds = seconds * 65536 + quotient;

  current = remainder * 65536 + (low >>> 16);
  quotient = Math.floor(current / u);
  remainder = current - quotient * u;
  seconds = seconds * 65536 + quotient;

  current = remainder * 65536 + (low & 0xffff);
  quotient = Math.floor(current / u);
  remainder = current - quotient * u;
  seconds = seconds * 65536 + quotient;

  // Seconds beyond 2^53 (only with coarse units and absurd tick counts) were rounded on the way.
  if (seconds > Number.MAX_SAFE_INTEGER) return bigTicksToMicros(high, low, unitsPerSecond);
  return seconds * 1e6 + (remainder * 1e6) / u;
}

/** Resolutions finer than 2^-37 s (picoseconds and beyond): rare enough for BigInt. */
function bigTicksToMicros(high: number, low: number, unitsPerSecond: number): number {
  const ticks = (BigInt(high) << 32n) | BigInt(low);
  const units = BigInt(unitsPerSecond);
  const seconds = ticks / units;
  const remainder = ticks - seconds * units;
  return Number(seconds) * 1e6 + Number(remainder * 1_000_000n) / unitsPerSecond;
}
