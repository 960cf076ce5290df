import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import type { Freight } from "../api/types";
import { ApproveDialog, PromoteDialog, RenameDialog } from "./Dialogs";
import type { Placement } from "./placement";
import { everything, rightsFrom } from "./rights";

const f: Freight = { metadata: { name: "f5f87aa23c9e97f43eb83dd63768ee41f5ba3766" }, alias: "mortal-dragonfly" };
const stages = ["test", "uat", "prod"].map((name) => ({ metadata: { name }, spec: {} }));
const placement = (p: Partial<Placement>): Placement => ({ current: [], verified: [], approved: [], availableTo: [], ...p });

describe("PromoteDialog", () => {
  it("offers only the Stages the Freight is available to", () => {
    render(<PromoteDialog freight={f} placement={placement({ availableTo: ["test", "uat"], current: ["test"] })} stages={stages} rights={everything} onClose={() => {}} onDone={() => {}} run={async () => ""} />);
    const radios = screen.getAllByRole("radio") as HTMLInputElement[];
    expect(radios.map((r) => r.value)).toEqual(["test", "uat"]);
    expect(screen.getByText("(current)")).toBeTruthy();
  });

  it("explains when the Freight is available nowhere", () => {
    render(<PromoteDialog freight={f} placement={placement({})} stages={stages} rights={everything} onClose={() => {}} onDone={() => {}} run={async () => ""} />);
    expect(screen.queryAllByRole("radio")).toHaveLength(0);
    expect(screen.getByRole("dialog").textContent).toContain("is not available to any Stage yet");
    expect((screen.getByRole("button", { name: "Promote" }) as HTMLButtonElement).disabled).toBe(true);
  });

  it("shows the server's refusal and stays open", async () => {
    const onClose = vi.fn();
    const run = vi.fn(async () => {
      throw new Error('bob may not promote to Stage "prod": the promote verb on stages/prod is not granted');
    });
    render(<PromoteDialog freight={f} placement={placement({ availableTo: ["prod"] })} stages={stages} rights={everything} onClose={onClose} onDone={() => {}} run={run} />);
    fireEvent.click(screen.getByRole("button", { name: "Promote" }));
    await waitFor(() => expect(screen.getByRole("alert").textContent).toContain("the promote verb on stages/prod is not granted"));
    expect(run).toHaveBeenCalledWith("prod");
    expect(onClose).not.toHaveBeenCalled();
  });

  it("reports the outcome and closes on success", async () => {
    const onClose = vi.fn();
    const onDone = vi.fn();
    render(<PromoteDialog freight={f} placement={placement({ availableTo: ["test"] })} stages={stages} rights={everything} onClose={onClose} onDone={onDone} run={async (s) => `promoted to ${s}`} />);
    fireEvent.click(screen.getByRole("button", { name: "Promote" }));
    await waitFor(() => expect(onDone).toHaveBeenCalledWith("promoted to test"));
    expect(onClose).toHaveBeenCalled();
  });

  it("disables the Stages the user may not promote to, saying why on hover", () => {
    const reason = 'user "bob" may not promote to Stage "prod" in project "kargo-demo": that needs the "promote" verb';
    const rights = rightsFrom({
      stages: { uat: { promote: { allowed: true }, approve: { allowed: true } }, prod: { promote: { allowed: false, reason }, approve: { allowed: false, reason } } },
      rename: { allowed: true },
    });
    render(<PromoteDialog freight={f} placement={placement({ availableTo: ["uat", "prod"] })} stages={stages} rights={rights} onClose={() => {}} onDone={() => {}} run={async () => ""} />);
    const prod = screen.getByRole("radio", { name: /prod/ }) as HTMLInputElement;
    expect(prod.disabled).toBe(true);
    expect(prod.closest("label")?.getAttribute("title")).toBe(reason);
    expect(prod.closest("label")?.textContent).toContain("(not permitted)");
    expect((screen.getByRole("radio", { name: /uat/ }) as HTMLInputElement).disabled).toBe(false);
  });
});

describe("ApproveDialog", () => {
  it("offers the Stages the Freight is not approved for yet", () => {
    render(<ApproveDialog freight={f} placement={placement({ approved: ["uat"] })} stages={stages} rights={everything} onClose={() => {}} onDone={() => {}} run={async () => ""} />);
    expect((screen.getAllByRole("radio") as HTMLInputElement[]).map((r) => r.value)).toEqual(["test", "prod"]);
  });

  it("sends the comment, and shows who approved already", async () => {
    const run = vi.fn(async () => "ok");
    const approved = {
      ...f,
      status: { approvals: { prod: [{ user: "ava", groups: ["release"], at: "2026-12-03T09:00:00Z", comment: "CAB-1" }] } },
    };
    render(<ApproveDialog freight={approved} placement={placement({})} stages={stages} rights={everything} onClose={() => {}} onDone={() => {}} run={run} />);
    fireEvent.click(screen.getByRole("radio", { name: /prod/ }));
    expect(screen.getByLabelText("Approvals given").textContent).toContain("ava");
    expect(screen.getByLabelText("Approvals given").textContent).toContain("CAB-1");
    fireEvent.change(screen.getByLabelText("Comment"), { target: { value: " rollback agreed " } });
    fireEvent.click(screen.getByRole("button", { name: "Approve" }));
    await waitFor(() => expect(run).toHaveBeenCalledWith("prod", "rollback agreed"));
  });
});

describe("RenameDialog", () => {
  it("submits the new alias, trimmed, and not the unchanged one", async () => {
    const run = vi.fn(async () => "ok");
    render(<RenameDialog freight={f} onClose={() => {}} onDone={() => {}} run={run} />);
    const submit = screen.getByRole("button", { name: "Rename" }) as HTMLButtonElement;
    expect(submit.disabled).toBe(true);
    fireEvent.change(screen.getByLabelText("Alias"), { target: { value: "  hotfix-1 " } });
    fireEvent.click(submit);
    await waitFor(() => expect(run).toHaveBeenCalledWith("hotfix-1"));
  });
});
