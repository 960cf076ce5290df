// ProjectList lists the projects the user can see.

import { useEffect, useState } from "react";
import type { Project } from "../api/types";
import type { Session } from "../session";
import { navigate } from "../router";

export function ProjectList({ session }: { session: Session }) {
  const [projects, setProjects] = useState<Project[] | null>(null);
  const [error, setError] = useState<string>();

  useEffect(() => {
    session.client.projects().then(setProjects, (e) => setError(e.message));
  }, [session]);

  if (error)
    return (
      <p className="error" role="alert">
        {error}
      </p>
    );
  if (!projects) return <p className="loading">Loading projects…</p>;
  return (
    <section className="projects">
      <h1>Projects</h1>
      {projects.length === 0 ? (
        <p>
          No projects yet. A project is created with <code>kargo create -f</code> or <code>kubectl apply -f</code> of a{" "}
          <code>Project</code>.
        </p>
      ) : (
        <ul>
          {projects.map((p) => (
            <li key={p.metadata.name}>
              <a
                href={`/projects/${encodeURIComponent(p.metadata.name)}`}
                onClick={(e) => {
                  e.preventDefault();
                  navigate({ page: "project", project: p.metadata.name });
                }}
              >
                {p.metadata.name}
              </a>
              {p.status?.phase && <span className="muted"> {p.status.phase}</span>}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
