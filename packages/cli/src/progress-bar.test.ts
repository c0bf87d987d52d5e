import { describe, expect, it } from "vitest";
import { progressOf } from "./progress-bar.js";

// The renderer alone, told whether stderr is a terminal as main.ts tells it (process.stderr.isTTY);
// stream-commands.test.ts runs replay under a real pseudo-terminal (`script`).

function renderer(stderrIsTTY: boolean, total: number) {
  let clock = 0;
  const written: string[] = [];
  const progress = progressOf(total, { stderr: (t) => written.push(t), stderrIsTTY }, () => clock);
  return { progress, written, advance: (ms: number) => (clock += ms) };
}

describe("replay's progress on stderr", () => {
  it("on a terminal: a bar redrawn in place (\\r), filled in proportion, ended by a full bar and a newline", () => {
    const { progress, written, advance } = renderer(true, 200);
    advance(1_000);
    progress(50);
    advance(100);
    progress(100);
    progress(200, true);
    expect(written).toEqual([
      `\r[${"#".repeat(8)}${"-".repeat(22)}] 25% 50/200`,
      `\r[${"#".repeat(15)}${"-".repeat(15)}] 50% 100/200`,
      `\r[${"#".repeat(30)}] 100% 200/200\n`,
    ]);
  });

  it("on a terminal: at most one redraw per 100 ms however many events come, and always the last", () => {
    const { progress, written, advance } = renderer(true, 1_000);
    advance(1_000);
    for (let done = 1; done <= 999; done++) progress(done);
    expect(written).toHaveLength(1);
    advance(99);
    progress(999);
    expect(written).toHaveLength(1);
    advance(1);
    progress(999);
    progress(1_000, true);
    expect(written).toHaveLength(3);
    expect(written.at(-1)).toMatch(/100% 1000\/1000\n$/);
  });

  it("on anything else (a file, a pipe): no bar, one plain count at the end", () => {
    const { progress, written, advance } = renderer(false, 3);
    advance(1_000);
    progress(1);
    advance(1_000);
    progress(2);
    progress(3, true);
    expect(written).toEqual(["replayed 3 of 3 events\n"]);
  });
});
