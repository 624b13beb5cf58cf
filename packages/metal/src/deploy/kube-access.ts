/**
 * How a deploy reaches the Kubernetes API. The orchestrator asks for an API that does not run
 * through the nodes it is about to take down, so the SSH tunnel can move to another server.
 */
import { KubeConfig } from "@kubernetes/client-node";
import { KubernetesClusterApi, type ClusterApi } from "./cluster-api.js";
import { KubeconfigError } from "./errors.js";

export interface KubeAccess {
  /**
   * An API client whose connection avoids the named nodes when another way exists. Call it again
   * after a failure: an access that lost its connection opens a new one.
   */
  clusterApi(avoid: readonly string[]): Promise<ClusterApi>;
  close(): Promise<void>;
}

/** `--kubeconfig FILE`: the user's own credentials, one connection for the whole deploy. */
export class KubeconfigFileAccess implements KubeAccess {
  readonly #api: ClusterApi;

  constructor(file: string) {
    const kubeConfig = new KubeConfig();
    try {
      kubeConfig.loadFromFile(file);
    } catch (error) {
      throw new KubeconfigError(
        `cannot use --kubeconfig ${file}: ${error instanceof Error ? error.message : String(error)} ` +
          `(leave --kubeconfig out to reach the API through the init server over SSH)`,
      );
    }
    this.#api = new KubernetesClusterApi(kubeConfig);
  }

  async clusterApi(): Promise<ClusterApi> {
    return this.#api;
  }

  async close(): Promise<void> {}
}
