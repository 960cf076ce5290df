// The installed UI in a browser: Debian's chromium, driven by
// playwright-core, against kargo's API server as a Helm install serves it
// through its Service (test/cluster runs this inside the test cluster's
// network, after the seed pipeline brought its first Freight into test).
// Run it with `make test-cluster`, which passes:
//
//   KARGO_UI_URL          https://<the kargo-api Service's name>/#token=<a bearer token>
//   KARGO_API_ADDRESS     the Service's ClusterIP: the browser resolves the name to it
//   KARGO_USER            the username the token stands for
//   KARGO_PROJECT         kargo-demo
//   KARGO_FREIGHT_ALIAS   the alias of the Freight in test
//   KARGO_CHROMIUM        the browser
//
// The chart's certificate is self-signed; the CLI's login checks it, the
// browser is told to accept it.

import { strict as assert } from "node:assert";
import { launchChromium } from "./browser.mjs";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run this through make test-cluster`);
  return v;
};
const uiURL = env("KARGO_UI_URL");
const address = env("KARGO_API_ADDRESS");
const user = env("KARGO_USER");
const project = env("KARGO_PROJECT");
const alias = env("KARGO_FREIGHT_ALIAS");
const timeout = 60_000;

const text = async (locator) => ((await locator.textContent({ timeout: 1000 })) ?? "").trim();

const host = new URL(uiURL).hostname;
const browser = await launchChromium(`--host-resolver-rules=MAP ${host} ${address}`);
let failed = false;
try {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(timeout);
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  // The ServiceAccount may not list Projects: the project list's one
  // refusal is expected, any other failure is not.
  const projectList = new URL("/api/v1/projects", uiURL).href;
  page.on("response", (r) => {
    if (r.status() >= 400 && !(r.status() === 403 && r.url() === projectList)) errors.push(`${r.status()} ${r.url()}`);
  });

  console.log("- the installed UI signs in with the token");
  await page.goto(uiURL);
  await page.getByLabel("Signed in as").waitFor();
  assert.equal(await text(page.getByLabel("Signed in as")), user);

  // The ServiceAccount may read one project, not list Projects: it goes
  // to the project's page by its address, as a shared link would.
  console.log("- the project's pipeline: the Warehouse and the Stages");
  await page.goto(new URL(`/projects/${project}`, uiURL).href);
  const card = (name) => page.getByRole("article", { name });
  for (const name of [`Warehouse ${project}`, "Stage test", "Stage uat", "Stage prod"]) await card(name).waitFor();

  console.log(`- Freight ${alias} is current in test, and in the timeline`);
  assert.equal(await text(card("Stage test").getByLabel("Current Freight")), alias);
  await page.getByRole("listitem").filter({ has: page.getByLabel(`Freight ${alias}`, { exact: true }) }).waitFor();
  await page.getByRole("status", { name: "Live updates" }).filter({ hasText: "live" }).waitFor();
  assert.deepEqual(errors, [], "the page failed requests or threw");
} catch (e) {
  failed = true;
  console.error(e);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
