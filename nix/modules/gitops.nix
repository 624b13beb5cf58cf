# GitOps bootstrap: Argo CD and one root Application that syncs `cluster.gitops_repo`, delivered
# as k3s HelmChart manifests on every server, so the cluster pulls its own configuration and no
# admin kubeconfig has to leave the nodes. The root Application also installs MetalLB (Service
# IPs; its address pools live in the GitOps repository). Why Argo CD: docs/decisions/0050.
{
  lib,
  settings,
  inventory,
  ...
}:
let
  pins = import ../pins.nix;
  argoNamespace = "argocd";
  helmChart = name: pin: values: {
    apiVersion = "helm.cattle.io/v1";
    kind = "HelmChart";
    metadata = {
      inherit name;
      namespace = "kube-system";
    };
    spec = {
      inherit (pin) repo chart version;
      targetNamespace = argoNamespace;
      createNamespace = true;
      valuesContent = builtins.toJSON values;
    };
  };
  automatedSync = {
    automated = {
      prune = true;
      selfHeal = true;
    };
    syncOptions = [ "CreateNamespace=true" ];
  };
  inClusterDestination = namespace: {
    server = "https://kubernetes.default.svc";
    inherit namespace;
  };
in
{
  config = lib.mkIf (settings.role == "server" && inventory.cluster.gitopsRepo != null) {
    services.k3s.manifests.gitops-bootstrap.content = [
      (helmChart "argocd" pins.argoCd {
        # Argo CD's own TLS is terminated by whatever ingress the GitOps repo installs.
        configs.params."server.insecure" = true;
      })
      # argocd-apps needs Argo CD's CRDs: its install job fails and is retried by the k3s
      # helm-controller until the chart above has installed them.
      (helmChart "argocd-apps" pins.argoCdApps {
        applications = {
          root = {
            namespace = argoNamespace;
            project = "default";
            source = {
              repoURL = inventory.cluster.gitopsRepo;
              targetRevision = "HEAD";
              path = ".";
              directory.recurse = true;
            };
            destination = inClusterDestination argoNamespace;
            syncPolicy = automatedSync;
          };
          metallb = {
            namespace = argoNamespace;
            project = "default";
            source = {
              repoURL = pins.metallb.repo;
              inherit (pins.metallb) chart;
              targetRevision = pins.metallb.version;
            };
            destination = inClusterDestination "metallb-system";
            syncPolicy = automatedSync;
          };
        };
      })
    ];
  };
}
