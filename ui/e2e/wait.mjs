// Waiting in the browser tests: a condition polled until it holds, the
// address bar's path, and an element's text. Shared by the *.e2e.mjs
// scripts.

// eventually polls f every 100 ms until it returns true, and fails with
// what was awaited (and the last error f threw) after ms.
export async function eventually(what, f, ms = 30_000) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      if (await f()) return;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`not seen within ${ms / 1000}s: ${what}${last ? ` (${last.message})` : ""}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// atPath waits until the address bar's path matches re (the UI changes
// it with pushState, which fires no load event).
export const atPath = (page, re) => eventually(`the address ${re}`, async () => re.test(new URL(page.url()).pathname));

// text is an element's text, trimmed ("" when it has none).
export const text = async (locator) => ((await locator.textContent({ timeout: 1000 })) ?? "").trim();
