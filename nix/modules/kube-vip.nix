# The control-plane VIP: kube-vip in ARP mode with leader election, as a DaemonSet on the
# servers, shipped as a k3s auto-deploy manifest (the k3s-documented way; what
# `kube-vip manifest daemonset --inCluster --taint --controlplane --arp --leaderElection` prints).
# The init server's certificate carries the VIP (--tls-san, host-settings.nix).
{
  config,
  lib,
  settings,
  inventory,
  ...
}:
let
  pins = import ../pins.nix;
  nic = import ../lib/nic-name.nix settings;
  namespace = "kube-system";
  name = "kube-vip";
  labels.name = "kube-vip-ds";
  # Variable names: kube-vip/kube-vip v0.8.9, pkg/kubevip/config_envvar.go.
  env = lib.mapAttrsToList (envName: value: {
    name = envName;
    value = toString value;
  });
  # Lease timings from kube-vip's generated manifest: fail over within a few seconds.
  lease = {
    durationSeconds = 5;
    renewDeadlineSeconds = 3;
    retryPeriodSeconds = 1;
  };

  serverNics = lib.unique (
    map (import ../lib/nic-name.nix) (builtins.filter (host: host.role == "server") inventory.hosts)
  );
in
{
  options.metal.kubeVip.image = lib.mkOption {
    type = lib.types.str;
    default = "${pins.kubeVip.image}:${pins.kubeVip.tag}";
    description = "kube-vip container image (the VM test sets a preloaded one).";
  };

  config = lib.mkIf (settings.role == "server") {
    # One DaemonSet serves every server, so it can name only one interface.
    assertions = [
      {
        assertion = builtins.length serverNics == 1;
        message = "kube-vip: servers use different NIC names (${toString serverNics}); give every server the same `interface` in cluster.toml, or none (then each NIC is renamed to lan0)";
      }
    ];

    services.k3s.manifests.kube-vip.content = [
      {
        apiVersion = "v1";
        kind = "ServiceAccount";
        metadata = { inherit name namespace; };
      }
      {
        apiVersion = "rbac.authorization.k8s.io/v1";
        kind = "ClusterRole";
        metadata.name = "system:kube-vip-role";
        rules = [
          {
            apiGroups = [ "" ];
            resources = [
              "services/status"
              "services"
              "endpoints"
              "nodes"
            ];
            verbs = [
              "list"
              "get"
              "watch"
              "update"
            ];
          }
          {
            apiGroups = [ "coordination.k8s.io" ];
            resources = [ "leases" ];
            verbs = [
              "list"
              "get"
              "watch"
              "update"
              "create"
            ];
          }
          {
            apiGroups = [ "discovery.k8s.io" ];
            resources = [ "endpointslices" ];
            verbs = [
              "list"
              "get"
              "watch"
              "update"
            ];
          }
        ];
      }
      {
        apiVersion = "rbac.authorization.k8s.io/v1";
        kind = "ClusterRoleBinding";
        metadata.name = "system:kube-vip-binding";
        roleRef = {
          apiGroup = "rbac.authorization.k8s.io";
          kind = "ClusterRole";
          name = "system:kube-vip-role";
        };
        subjects = [
          {
            kind = "ServiceAccount";
            inherit name namespace;
          }
        ];
      }
      {
        apiVersion = "apps/v1";
        kind = "DaemonSet";
        metadata = {
          name = "kube-vip-ds";
          inherit namespace labels;
        };
        spec = {
          selector.matchLabels = labels;
          template = {
            metadata = { inherit labels; };
            spec = {
              # --taint: only on control-plane nodes.
              affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms = [
                {
                  matchExpressions = [
                    {
                      key = "node-role.kubernetes.io/control-plane";
                      operator = "Exists";
                    }
                  ];
                }
              ];
              hostNetwork = true;
              serviceAccountName = name;
              tolerations = [
                {
                  effect = "NoSchedule";
                  operator = "Exists";
                }
                {
                  effect = "NoExecute";
                  operator = "Exists";
                }
              ];
              containers = [
                {
                  inherit name;
                  image = config.metal.kubeVip.image;
                  imagePullPolicy = "IfNotPresent";
                  args = [ "manager" ];
                  env = [
                    # kube-vip's leader-election identity (kube-vip/kube-vip v0.8.9,
                    # pkg/kubevip/config_envvar.go:81 `vip_nodename`, read in
                    # config_environment.go:115); its own manifest generator sets it from the
                    # downward API (config_generator.go:124-130). Without it no instance can lead
                    # and the VIP never comes up.
                    {
                      name = "vip_nodename";
                      valueFrom.fieldRef.fieldPath = "spec.nodeName";
                    }
                  ]
                  ++ env {
                    address = inventory.network.vip;
                    port = 6443;
                    vip_arp = "true";
                    vip_interface = nic;
                    vip_cidr = 32;
                    cp_enable = "true";
                    cp_namespace = namespace;
                    # Service IPs are MetalLB's job (docs/decisions/0051).
                    svc_enable = "false";
                    vip_leaderelection = "true";
                    vip_leaseduration = lease.durationSeconds;
                    vip_renewdeadline = lease.renewDeadlineSeconds;
                    vip_retryperiod = lease.retryPeriodSeconds;
                  };
                  securityContext.capabilities.add = [
                    "NET_ADMIN"
                    "NET_RAW"
                  ];
                }
              ];
            };
          };
        };
      }
    ];
  };
}
