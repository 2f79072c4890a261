import { randomBytes } from "node:crypto";

/** Crockford base32, lower case: no i, l, o, u; sorts the same as the numbers it encodes. */
const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";
const TIME_LENGTH = 10;
const RANDOM_LENGTH = 16;

/** Length of every id Berth generates. */
export const ID_LENGTH = TIME_LENGTH + RANDOM_LENGTH;
export const ID_PATTERN = /^[0-9a-hjkmnp-tv-z]{26}$/;

let lastTime = -1;
let lastRandom: number[] = [];

/**
 * A new identifier: 26 characters, 48 bits of milliseconds then 80 random bits (the ULID layout).
 * Monotonic within a process: ids made in the same millisecond (or with a clock that stepped back)
 * increment the previous random part, so ids always sort by creation order. Never contains `_`, which
 * lets tokens embed an id before their secret.
 */
export function newId(now: number = Date.now()): string {
  let random: number[];
  if (now <= lastTime) {
    now = lastTime;
    random = increment(lastRandom);
  } else {
    random = [...randomBytes(RANDOM_LENGTH)].map((b) => b % 32);
  }
  lastTime = now;
  lastRandom = random;
  let time = "";
  let t = now;
  for (let i = 0; i < TIME_LENGTH; i++) {
    time = ALPHABET[t % 32] + time;
    t = Math.floor(t / 32);
  }
  return time + random.map((d) => ALPHABET[d]).join("");
}

function increment(digits: number[]): number[] {
  const next = [...digits];
  for (let i = next.length - 1; i >= 0; i--) {
    if (next[i]! < 31) {
      next[i]! += 1;
      return next;
    }
    next[i] = 0;
  }
  throw new Error("id space of this millisecond exhausted");
}

export const isId = (value: string): boolean => ID_PATTERN.test(value);
