/**
 * Sizes as disko and QEMU write them: a whole number and a binary unit (`64G` = 64 GiB). disko
 * hands them to sgdisk (`+64G`) and QEMU to its block layer; both read K/M/G/T as powers of 1024.
 */
const UNIT_BYTES = { K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 } as const;
type Unit = keyof typeof UNIT_BYTES;

const SIZE_PATTERN = /^([1-9][0-9]*)([KMGT])$/;

export function isSize(text: string, units: readonly Unit[] = ["K", "M", "G", "T"]): boolean {
  const match = SIZE_PATTERN.exec(text);
  return match !== null && units.includes(match[2] as Unit);
}

/** Bytes of a size that passed `isSize`. */
export function sizeBytes(text: string): number {
  const match = SIZE_PATTERN.exec(text);
  if (!match) throw new RangeError(`"${text}" is not a size such as 64G`);
  return Number(match[1]) * UNIT_BYTES[match[2] as Unit];
}

/** `536870912000` → `500 GiB`, for messages about disks. */
export function formatBytes(bytes: number): string {
  const units: Array<[Unit | "", number]> = [
    ["T", UNIT_BYTES.T],
    ["G", UNIT_BYTES.G],
    ["M", UNIT_BYTES.M],
    ["K", UNIT_BYTES.K],
  ];
  for (const [unit, factor] of units) {
    if (bytes >= factor) return `${Number((bytes / factor).toFixed(1))} ${unit}iB`;
  }
  return `${bytes} B`;
}
