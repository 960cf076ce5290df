import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { takeTokenFromLocation } from "./auth";
import "./styles.css";

// The sign-in link's token leaves the address bar before anything renders.
takeTokenFromLocation();

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
