// Per-suite progress: a bar redrawn in place on a terminal, one plain line per finished suite otherwise.

export interface Progress {
  update(suite: string, done: number, total: number, elapsedMs: number): void;
  /** Replaces the bar with the suite's final line. */
  finish(line: string): void;
}

/** `[#######-----------------]` for done out of total. */
export function bar(done: number, total: number, width = 24): string {
  const filled = total === 0 ? width : Math.min(width, Math.floor((done / total) * width));
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}]`;
}

export function progressLine(suite: string, done: number, total: number, elapsedMs: number): string {
  return `${suite} ${bar(done, total)} ${done}/${total} runs ${(elapsedMs / 1000).toFixed(1)}s`;
}

const REDRAW_MS = 100;

export function createProgress(out: NodeJS.WritableStream, terminal: boolean): Progress {
  let last = 0;
  let drawn = false;
  return {
    update(suite, done, total, elapsedMs) {
      if (!terminal) return;
      const now = performance.now();
      if (drawn && now - last < REDRAW_MS && done < total) return;
      last = now;
      drawn = true;
      out.write(`\r\x1b[K${progressLine(suite, done, total, elapsedMs)}`);
    },
    finish(line) {
      out.write(`${drawn ? "\r\x1b[K" : ""}${line}\n`);
      drawn = false;
    },
  };
}
