// launchChromium starts Debian's chromium (KARGO_CHROMIUM, default
// /usr/bin/chromium) headless for the UI's end-to-end scripts. This
// machine's network is closed: without the background-networking flags,
// Chromium keeps trying to reach Google's services.
import { chromium } from "playwright-core";

export function launchChromium(...extraArgs) {
  return chromium.launch({
    executablePath: process.env.KARGO_CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      ...extraArgs,
    ],
  });
}
