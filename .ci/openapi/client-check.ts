// Compiled by .ci/contract against the client types openapi-typescript generates from the
// served document: a typed client exists, and a few of its types are what integrators rely on.
import type { components, paths } from "./generated/tenpo";

type Product = paths["/admin/v1/products/{product_id}"]["get"]["responses"]["200"]["content"]["application/json"];
type ProductPath = paths["/admin/v1/products/{product_id}"]["get"]["parameters"]["path"];
type Problem = paths["/admin/v1/products/{product_id}"]["get"]["responses"]["404"]["content"]["application/problem+json"];
type ListQuery = NonNullable<paths["/admin/v1/products"]["get"]["parameters"]["query"]>;
type Checkout = paths["/store/v1/stores/{store}/carts/{cart_id}/checkout"]["post"];

const id: ProductPath = { product_id: "00000000-0000-0000-0000-000000000000" };
const title: Product["title"] = "コーヒー豆";
const problem: Pick<Problem, "code" | "status"> = { code: "product_not_found", status: 404 };
const query: ListQuery = { limit: 50, q: "豆" };
const body: components["schemas"]["ProblemBody"]["code"] = problem.code;
const secret: Checkout["parameters"]["header"]["x-cart-secret"] = "s";

export const used = [id, title, problem, query, body, secret];
