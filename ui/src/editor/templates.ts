// The starting points of "New…": the smallest useful object of each kind
// the editor creates, in the project.

export type NewKind = "Warehouse" | "Stage" | "PromotionPolicy";

export function template(kind: NewKind, project: string): string {
  const head = `apiVersion: kargo.akuity.io/v1alpha1\nkind: ${kind}\nmetadata:\n  name: \n  namespace: ${project}\n`;
  switch (kind) {
    case "Warehouse":
      return `${head}spec:\n  subscriptions:\n    images:\n    - repoURL: \n      semverConstraint: ^1.0.0\n`;
    case "Stage":
      return `${head}spec:\n  subscriptions:\n    warehouse: \n  promotionTemplate:\n    spec:\n      steps: []\n`;
    case "PromotionPolicy":
      return `${head}stage: \nenableAutoPromotion: true\n`;
  }
}
