# Versions of what the cluster pulls at run time (container images and Helm charts fetched by
# the nodes, not by Nix). Bump them here; nothing else names a version.
{
  kubeVip = {
    image = "ghcr.io/kube-vip/kube-vip";
    tag = "v0.8.9";
  };
  argoCd = {
    repo = "https://argoproj.github.io/argo-helm";
    chart = "argo-cd";
    version = "8.0.17";
  };
  argoCdApps = {
    repo = "https://argoproj.github.io/argo-helm";
    chart = "argocd-apps";
    version = "2.0.2";
  };
  metallb = {
    repo = "https://metallb.github.io/metallb";
    chart = "metallb";
    version = "0.15.2";
  };
}
