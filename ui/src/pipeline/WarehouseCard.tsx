// WarehouseCard shows a Warehouse: what it subscribes to, the Freight it
// last produced, and why it cannot discover when it cannot.

import type { Freight, Warehouse } from "../api/types";
import { Link } from "../common/Link";

export function WarehouseCard({ warehouse, freightByName, project }: { warehouse: Warehouse; freightByName: Map<string, Freight>; project?: string }) {
  const name = warehouse.metadata.name;
  const subs = warehouse.spec.subscriptions ?? {};
  const sources = [
    ...(subs.images ?? []).map((i) => i.repoURL),
    ...(subs.git ?? []).map((g) => g.repoURL),
    ...(subs.charts ?? []).map((c) => (c.name ? `${c.repoURL} ${c.name}` : c.repoURL)),
  ];
  const ready = warehouse.status?.conditions?.find((c) => c.type === "Ready");
  const last = warehouse.status?.lastFreight;
  return (
    <article className="card warehouse" aria-label={`Warehouse ${warehouse.metadata.name}`}>
      <header>
        <h3>
          {project ? (
            <Link to={{ page: "project", project, kind: "warehouses", name }} label={`Open Warehouse ${name}`}>
              {name}
            </Link>
          ) : (
            name
          )}
        </h3>
        <span className="badge kind">Warehouse</span>
      </header>
      <div className="sources muted" title={sources.join("\n")}>
        {sources[0] ?? "no subscriptions"}
        {sources.length > 1 ? ` +${sources.length - 1}` : ""}
      </div>
      {last && (
        <div>
          newest:{" "}
          <span className="alias" title={last.name}>
            {freightByName.get(last.name)?.alias || last.alias || last.name.slice(0, 7)}
          </span>
        </div>
      )}
      {ready?.status === "False" && (
        <div className="error small" title={ready.message}>
          {ready.message ?? ready.reason}
        </div>
      )}
    </article>
  );
}
