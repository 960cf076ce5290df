// The parts of kargo.akuity.io/v1alpha1 (api/v1alpha1) and of the API
// server's bodies (internal/apitypes) that the UI reads. Objects travel as
// Kubernetes stores them, so field names are those of the Go types' JSON
// tags; every field the UI does not use is left out.

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

export interface Project {
  metadata: ObjectMeta;
  status?: { phase?: string; message?: string };
}

export interface Warehouse {
  metadata: ObjectMeta;
  spec: {
    subscriptions: {
      git?: { repoURL: string; branch?: string }[];
      images?: { repoURL: string }[];
      charts?: { repoURL: string; name?: string }[];
    };
  };
  status?: {
    conditions?: Condition[];
    lastFreight?: { name: string; alias?: string };
  };
}

export interface Image {
  repoURL: string;
  tag?: string;
  digest?: string;
}

export interface GitCommit {
  repoURL: string;
  id?: string;
  branch?: string;
  tag?: string;
  message?: string;
}

export interface Chart {
  repoURL: string;
  name?: string;
  version: string;
}

export interface Freight {
  metadata: ObjectMeta;
  alias?: string;
  origin?: { kind: string; name: string };
  commits?: GitCommit[];
  images?: Image[];
  charts?: Chart[];
  status?: {
    verifiedIn?: Record<string, { verifiedAt?: string }>;
    approvedFor?: Record<string, object>;
  };
}

export interface SimpleFreight {
  id: string;
  alias?: string;
}

export type HealthState = "Healthy" | "Unhealthy" | "Progressing" | "Unknown";

export interface PromotionReference {
  name: string;
  freight?: SimpleFreight;
  phase?: string;
}

export interface Stage {
  metadata: ObjectMeta;
  spec: {
    subscriptions?: {
      repos?: object;
      warehouse?: string;
      upstreamStages?: { name: string; requiredSoakTime?: string }[];
    };
  };
  status?: {
    phase?: string;
    availableFreight?: SimpleFreight[];
    currentFreight?: SimpleFreight;
    health?: { status: HealthState; issues?: string[] };
    currentPromotion?: PromotionReference;
    lastPromotion?: PromotionReference;
    verification?: { phase: string; message?: string; freight: string };
  };
}

export interface Promotion {
  metadata: ObjectMeta;
  spec: { stage: string; freight: string };
  status?: { phase?: string; message?: string };
}

// Kinds as the API's URLs name them.
export type KindPath = "warehouses" | "stages" | "freight" | "promotions";

export interface List<T> {
  kind: string;
  items: T[];
  continue?: string;
  total: number;
}

// WatchEvent is one event of a watch: a change of an object, or (SYNCED,
// RECONNECT, ERROR) news about the stream, which the client handles itself.
export interface WatchEvent<T> {
  type: "ADDED" | "MODIFIED" | "DELETED" | "ERROR" | "SYNCED" | "RECONNECT";
  object: T;
}

export interface WhoAmI {
  username: string;
  groups?: string[];
}

// Status is the body of every error the API answers.
export interface Status {
  kind?: "Status";
  code?: number;
  reason?: string;
  message?: string;
}
