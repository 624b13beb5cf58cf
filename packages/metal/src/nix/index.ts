export type {
  HostSettings,
  HostSettingsByName,
  K3sSettings,
  PartitionSettings,
} from "./host-settings.js";
export { evaluateNixDiskoLayouts, evaluateNixHostSettings } from "./evaluate.js";
export { NixEvaluationError, NixMissingError } from "./errors.js";
