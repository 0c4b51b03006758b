import fs from "node:fs";

/**
 * Machine-wide CPU accounting from /proc/stat, for benchmark tables: on a virtual machine the
 * host can take ("steal") a large share of the cores, and a benchmark run under 30% steal
 * measures the neighbours, not the code. Ticks are summed over all cores.
 */
export interface CpuSample {
  steal: number;
  idle: number;
  total: number;
}

export function cpuSample(): CpuSample {
  try {
    const line = fs.readFileSync("/proc/stat", "utf8").split("\n")[0];
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already in user)
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    return { steal: v[7] ?? 0, idle: (v[3] ?? 0) + (v[4] ?? 0), total };
  } catch {
    return { steal: NaN, idle: NaN, total: NaN };
  }
}

/** CPU seconds (user + system) process `pid` used so far, from /proc/<pid>/stat (clock ticks of 10 ms); NaN if gone. */
export function cpuSeconds(pid: number | undefined): number {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/** Resident and peak resident memory of process `pid` in MB, from /proc/<pid>/status; 0 if gone. */
export function rssMB(pid: number | undefined): { rss: number; peak: number } {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
    return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 };
  } catch {
    return { rss: 0, peak: 0 };
  }
}

/** Steal and idle as percentages of all CPU time between two samples. */
export function cpuShares(a: CpuSample, b: CpuSample): { stealPct: number; idlePct: number } {
  const total = b.total - a.total;
  return { stealPct: Math.round(((b.steal - a.steal) / total) * 100), idlePct: Math.round(((b.idle - a.idle) / total) * 100) };
}
