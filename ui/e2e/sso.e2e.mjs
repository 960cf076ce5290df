// Single sign-on in the browser: Debian's chromium, driven by
// playwright-core, signs in to `kargo local --demo` through a real Dex's
// login page (test/ui/sso_test.go starts both), as alice, whose group
// promoters is bound to the kargo-promoter role, and promotes; then as
// mallory, of group developers (kargo-viewer), who sees the pipeline and
// whose promotion is refused with the reason.
//
//   KARGO_UI_URL          the UI, without a token
//   KARGO_PROJECT         kargo-demo
//   KARGO_FREIGHT_ALIAS   the demo's Freight, verified in test
//   KARGO_ALICE / KARGO_MALLORY  the users' emails; KARGO_PASSWORD their password
//   KARGO_CHROMIUM        the browser; KARGO_SCREENSHOT_DIR where a failure's screenshot goes

import { strict as assert } from "node:assert";
import path from "node:path";
import { launchChromium } from "./browser.mjs";
import { eventually, text } from "./wait.mjs";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run this through go test ./test/ui/`);
  return v;
};
const uiURL = env("KARGO_UI_URL").replace(/\/$/, "");
const project = env("KARGO_PROJECT");
const alias = env("KARGO_FREIGHT_ALIAS");
const alice = env("KARGO_ALICE");
const mallory = env("KARGO_MALLORY");
const password = env("KARGO_PASSWORD");
const screenshotDir = env("KARGO_SCREENSHOT_DIR");
const timeout = 30_000;

const step = (what) => console.log(`- ${what}`);

// signIn goes through the provider's own login page and back.
async function signIn(page, email) {
  await page.goto(uiURL + "/");
  const button = page.getByRole("button", { name: "Sign in with single sign-on" });
  await button.click();
  const alert = page.getByRole("form", { name: "Sign in" }).getByRole("alert");
  await eventually("the provider's login page", async () => {
    if ((await alert.count()) > 0) throw new Error(`the sign-in page says: ${await text(alert)}`);
    return page.locator("input#login").isVisible();
  });
  step(`  at the provider: ${new URL(page.url()).origin}`);
  assert.notEqual(new URL(page.url()).origin, new URL(uiURL).origin, "the password is typed on the provider's page, not kargo's");
  await page.locator("input#login").fill(email);
  await page.locator("input#password").fill(password);
  await page.locator("button[type=submit]").click();
  await eventually(`signed in as oidc:${email}`, async () => (await text(page.getByLabel("Signed in as"))) === `oidc:${email}`);
}

const browser = await launchChromium();
let failed = false;
let page;
try {
  const context = await browser.newContext();
  page = await context.newPage();
  page.setDefaultTimeout(timeout);
  const consoleErrors = [];
  page.on("console", (m) => {
    if (m.type() === "error") {
      consoleErrors.push(m.text());
      console.log(`  console: ${m.text()}`);
    }
  });

  step("alice signs in through the provider's login page");
  await signIn(page, alice);
  const stored = await page.evaluate(() => window.localStorage.getItem("kargo.token"));
  assert.ok(stored && stored.split(".").length === 3, "the ID token is the session's bearer token");
  assert.equal(await page.evaluate(() => window.sessionStorage.getItem("kargo.sso.pending")), null, "the PKCE verifier is gone");

  step("alice, of group promoters, promotes the Freight into uat");
  await page.goto(`${uiURL}/projects/${project}`);
  await page.getByRole("button", { name: `Promote ${alias}` }).click();
  const dialog = page.getByRole("dialog", { name: `Promote ${alias}` });
  await dialog.getByRole("radio", { name: "uat" }).check();
  await dialog.getByRole("button", { name: "Promote" }).click();
  await page.getByRole("status").filter({ hasText: `Promoting ${alias} to uat` }).waitFor();
  const card = (name) => page.getByRole("article", { name });
  await eventually("Stage uat shows the Freight as current", async () =>
    (await text(card("Stage uat").getByLabel("Current Freight"))) === alias,
  );

  step("sign out; mallory, of group developers, signs in");
  await page.getByRole("button", { name: "Sign out" }).click();
  await signIn(page, mallory);

  step("mallory, a viewer, finds every action disabled, with the reason on hover");
  await page.goto(`${uiURL}/projects/${project}`);
  const user = new RegExp(`user "oidc:${mallory.replace(/[.]/g, "\\.")}"`);
  for (const [action, why] of [
    ["Promote", /may not promote to Stage "test"/],
    ["Approve", /may not promote to Stage "test"/],
    ["Rename", /may not update freights/],
  ]) {
    const button = page.getByRole("button", { name: `${action} ${alias}` });
    await eventually(`${action} is disabled for mallory, saying why`, async () => (await button.isDisabled()) && !!(await button.getAttribute("title")));
    const reason = await button.getAttribute("title");
    assert.match(reason, user, `the reason names the user: ${reason}`);
    assert.match(reason, why, `the reason names the verb (and Stage): ${reason}`);
    console.log(`  ${action} on hover: ${reason}`);
  }
  assert.deepEqual(consoleErrors.filter((e) => !/403|Forbidden/.test(e)), [], "the page logged errors");
} catch (e) {
  failed = true;
  console.error(`FAIL: ${e.stack ?? e}`);
  if (page) {
    const shot = path.join(screenshotDir, "ui-sso-failure.png");
    await page.screenshot({ path: shot }).catch(() => {});
    console.error(`what the page showed (${page.url()}): ${shot}`);
  }
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
