import { render, screen, waitFor } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { Client } from "../api/client";
import type { Freight, Gates, Stage } from "../api/types";
import { everything } from "../freight/rights";
import { StageView } from "../stage/StageView";
import { GatesProvider } from "./WindowGate";

const fname = "f5f87aa23c9e97f43eb83dd63768ee41f5ba3766";
const f: Freight = { metadata: { name: fname, creationTimestamp: "2026-01-01T00:00:00Z" }, alias: "mortal-dragonfly", origin: { kind: "Warehouse", name: "w" } };
const stage: Stage = { metadata: { name: "prod" }, spec: { subscriptions: { warehouse: "w" } }, status: {} };
const snap = { warehouses: [], stages: [stage], freight: [f], freightByName: new Map([[fname, f]]), promotions: new Map(), loaded: true, live: true };

// closedFor answers the gates of prod, closed by a Deny window, with the
// caller's override right; it records the promote requests' bodies.
function closedFor(override: { allowed: boolean; reason?: string }, promoted: unknown[]): Client {
  const gates: Gates = {
    now: "2026-10-24T10:00:00Z",
    stages: {
      prod: {
        open: false,
        stop: { kind: "Window", message: "Waiting: Deny PromotionWindow no-weekend-prod is open" },
        windows: { open: false, selecting: 1, window: { name: "no-weekend-prod", kind: "Deny", timeZone: "Europe/Berlin" }, nextChange: "2026-10-26T07:00:00Z" },
        overrideWindow: override,
      },
    },
  };
  return new Client("t", "", async (input, init) => {
    const url = new URL(String(input), "http://kargo");
    if (url.pathname.endsWith("/gates")) {
      expect(url.search).toBe("?stage=prod");
      return new Response(JSON.stringify(gates));
    }
    promoted.push(JSON.parse(String(init?.body)));
    return new Response(JSON.stringify({ metadata: { name: "prod-f5f87aa-x" }, spec: { stage: "prod", freight: fname } }), { status: 201 });
  });
}

function show(client: Client) {
  render(
    <GatesProvider client={client} project="p" stages={["prod"]} focus="prod">
      <StageView client={client} project="p" name="prod" snap={snap} rights={everything} onDone={() => {}} onEdit={() => {}} />
    </GatesProvider>,
  );
}

describe("a closed promotion window on the Stage's page", () => {
  it("disables Promote with the server's reason for someone who may not override", async () => {
    const reason = 'user "bob" may not override-window Stage "prod" in project "p"';
    show(closedFor({ allowed: false, reason }, []));
    await screen.findByText(/Promote is disabled while the window is closed/);
    const promote = screen.getByRole("button", { name: "Promote" }) as HTMLButtonElement;
    expect(promote.disabled).toBe(true);
    expect(promote.title).toBe(`Closed by Deny window no-weekend-prod until Mon 26 Oct, 08:00 (Europe/Berlin). ${reason}`);
    expect(screen.getByRole("note", { name: "Promotion windows" }).textContent).toContain("Closed by Deny window no-weekend-prod");
  });

  it("makes the override explicit for someone who may, and asks for it", async () => {
    const promoted: unknown[] = [];
    show(closedFor({ allowed: true }, promoted));
    const promote = (await screen.findByRole("button", { name: "Promote, overriding the window" })) as HTMLButtonElement;
    expect(promote.disabled).toBe(false);
    expect(screen.getByLabelText("Window override").textContent).toContain("the audit trail records the override");
    promote.click();
    await waitFor(() => expect(promoted).toEqual([{ freight: fname, overrideWindow: true }]));
  });
});
