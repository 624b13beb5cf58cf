# Host settings → the name of the NIC that carries the host's static address. Without an
# `interface` in the inventory, networking.nix renames the NIC matched by MAC to this stable name,
# so flannel and kube-vip can name it the same way on every machine.
settings: if settings.interface != null then settings.interface else "lan0"
