import { existsSync } from "node:fs";
import { describe, it } from "vitest";

/** Debian's Chromium (`apt-get install chromium`; .ci/run installs it), or BERTH_TEST_CHROMIUM. */
export const CHROMIUM = process.env.BERTH_TEST_CHROMIUM ?? "/usr/bin/chromium";

/** Declares browser tests: skipped with the reason where Chromium is missing, failing in CI (CI=true). */
export function withBrowser(title: string, body: () => void) {
  if (existsSync(CHROMIUM)) {
    describe(title, body);
  } else if (process.env.CI === "true") {
    describe(title, () => {
      it("needs Chromium in CI (.ci/run installs it)", () => {
        throw new Error(`no Chromium at ${CHROMIUM}`);
      });
    });
  } else {
    console.warn(`[browser] skipping "${title}": no Chromium at ${CHROMIUM} (apt-get install chromium)`);
    describe.skip(`${title} (skipped: no Chromium at ${CHROMIUM})`, () => {
      it("runs when Chromium is installed", () => {});
    });
  }
}
