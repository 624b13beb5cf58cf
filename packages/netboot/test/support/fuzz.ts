/**
 * The harness both codec fuzz tests share: a seeded generator (so a failure replays from its
 * seed), the FUZZ_ITERATIONS / FUZZ_SEED knobs, and the loop that feeds generated packets to a
 * decoder and fails on anything but the codec's typed error.
 */

/** The default suite decodes this many packets per codec; FUZZ_ITERATIONS for longer runs. */
export const DEFAULT_FUZZ_ITERATIONS = 100_000;

export interface FuzzSettings {
  readonly iterations: number;
  readonly seed: number;
}

/** FUZZ_ITERATIONS=1000000 for a longer run; FUZZ_SEED to replay a failure. */
export function fuzzSettings(defaultSeed: number): FuzzSettings {
  return {
    iterations: Number(process.env.FUZZ_ITERATIONS ?? DEFAULT_FUZZ_ITERATIONS),
    seed: Number(process.env.FUZZ_SEED ?? defaultSeed),
  };
}

/** mulberry32: a small seeded generator of numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

export interface DecoderFuzz {
  readonly settings: FuzzSettings;
  /** The next packet to try, from the seeded generator. */
  readonly generate: (random: () => number) => Buffer;
  /** Decodes the bytes and checks what it decoded; throws the typed error to refuse them. */
  readonly exercise: (bytes: Buffer) => void;
  readonly typedError: abstract new (...args: never[]) => Error;
}

/**
 * Runs `settings.iterations` generated packets through `exercise`; counts those it accepted and
 * those it refused with the typed error, and throws (naming iteration, seed and bytes) on any
 * other exception.
 */
export function fuzzDecoder(fuzz: DecoderFuzz): { decoded: number; refused: number } {
  const { iterations, seed } = fuzz.settings;
  const random = seededRandom(seed);
  let decoded = 0;
  let refused = 0;
  for (let iteration = 0; iteration < iterations; iteration++) {
    const bytes = fuzz.generate(random);
    try {
      fuzz.exercise(bytes);
      decoded++;
    } catch (error) {
      if (!(error instanceof fuzz.typedError))
        throw new Error(
          `iteration ${iteration} (seed ${seed}) threw ${String(error)} for ${bytes.toString("hex")}`,
        );
      refused++;
    }
  }
  return { decoded, refused };
}
