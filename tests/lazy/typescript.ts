// See load.ts.
import { lazy } from "./load";

export = lazy("typescript");
