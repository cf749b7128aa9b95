/** Percentile of a list of samples (nearest rank); the list is sorted in place. */
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return NaN;
  samples.sort((a, b) => a - b);
  const rank = Math.min(samples.length - 1, Math.max(0, Math.ceil((p / 100) * samples.length) - 1));
  return samples[rank] ?? NaN;
}

export function ms(ns: bigint): number {
  return Number(ns) / 1e6;
}

export interface Row {
  name: string;
  value: number;
  unit: string;
  floor?: number;
}

/** Prints rows as a table with Herald's figure, the floor's and their ratio. */
export function printTable(title: string, rows: Row[]): void {
  const label = (r: Row) => (r.unit === "" ? r.name : `${r.name} (${r.unit})`);
  const width = Math.max(66, ...rows.map((r) => label(r).length));
  console.log(`\n${title}`);
  console.log(`  ${"measure".padEnd(width)} ${"herald".padStart(12)} ${"floor".padStart(12)}  ratio`);
  for (const r of rows) {
    const ratio = r.floor === undefined ? "" : (r.value / r.floor).toFixed(2);
    const floor = r.floor === undefined ? "" : fmt(r.floor);
    console.log(`  ${label(r).padEnd(width)} ${fmt(r.value).padStart(12)} ${floor.padStart(12)}  ${ratio}`);
  }
}

function fmt(n: number): string {
  if (Number.isInteger(n)) return n.toLocaleString("en-US");
  return n >= 100 ? Math.round(n).toLocaleString("en-US") : n.toFixed(3);
}
