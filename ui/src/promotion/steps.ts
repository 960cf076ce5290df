// The rows of a Promotion's step list: each step of its process (spec.steps)
// with what became of it (status.steps, by alias) and its outputs
// (status.state, by alias), as the step engine records them.

import type { Promotion, PromotionStep, StepExecution } from "../api/types";

export type StepState = StepExecution["status"] | "Pending";

export interface StepRow {
  index: number;
  alias: string;
  // what runs: the step's kind, or the task it expands
  uses: string;
  state: StepState;
  message?: string;
  startedAt?: string;
  finishedAt?: string;
  errorCount?: number;
  outputs?: Record<string, unknown>;
}

// stepAlias is the engine's alias of step i (engine.Alias): its own, or
// step-N counting from 1.
export function stepAlias(step: PromotionStep, i: number): string {
  return step.as || `step-${i + 1}`;
}

export function stepRows(p: Promotion): StepRow[] {
  const spec = p.spec?.steps ?? [];
  const executions = new Map((p.status?.steps ?? []).map((s) => [s.alias, s]));
  const state = (p.status?.state ?? {}) as Record<string, unknown>;
  const rows: StepRow[] = spec.map((step, i) => {
    const alias = stepAlias(step, i);
    const ex = executions.get(alias);
    executions.delete(alias);
    const out = state[alias];
    return {
      index: i,
      alias,
      uses: step.uses ?? (step.task ? `task ${step.task.name}` : ""),
      state: ex?.status ?? "Pending",
      message: ex?.message,
      startedAt: ex?.startedAt,
      finishedAt: ex?.finishedAt,
      errorCount: ex?.errorCount,
      outputs: out && typeof out === "object" ? (out as Record<string, unknown>) : undefined,
    };
  });
  // Executions the spec does not name (a task's steps, TASK::ALIAS) follow,
  // in the order they ran.
  for (const ex of executions.values()) {
    const out = state[ex.alias];
    rows.push({
      index: rows.length,
      alias: ex.alias,
      uses: "",
      state: ex.status,
      message: ex.message,
      startedAt: ex.startedAt,
      finishedAt: ex.finishedAt,
      errorCount: ex.errorCount,
      outputs: out && typeof out === "object" ? (out as Record<string, unknown>) : undefined,
    });
  }
  return rows;
}

// outputText is an output's value as the step list shows it.
export function outputText(v: unknown): string {
  return typeof v === "string" ? v : JSON.stringify(v);
}
