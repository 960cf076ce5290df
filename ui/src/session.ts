// Session is a signed-in user: the client that carries their token, and
// who the API server says they are. App makes it at sign-in and hands it to
// the pages.

import type { Client } from "./api/client";
import type { WhoAmI } from "./api/types";

export interface Session {
  client: Client;
  user: WhoAmI;
}
