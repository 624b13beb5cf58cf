export { evaluateNixDiskoLayouts, evaluateNixHostSettings } from "./evaluate.js";
export { NixEvaluationError, NixMissingError } from "./errors.js";
