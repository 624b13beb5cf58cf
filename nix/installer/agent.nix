# metal-agent.sh with exactly the tools it uses on its PATH, run by dash (the shell its tests
# use besides busybox).
{
  lib,
  runCommand,
  makeWrapper,
  dash,
  curl,
  coreutils,
  gnused,
  iproute2,
}:
runCommand "metal-agent" { nativeBuildInputs = [ makeWrapper ]; } ''
  install -Dm755 ${./metal-agent.sh} $out/libexec/metal-agent.sh
  makeWrapper ${dash}/bin/dash $out/bin/metal-agent \
    --add-flags $out/libexec/metal-agent.sh \
    --prefix PATH : ${
      lib.makeBinPath [
        curl
        coreutils
        gnused
        iproute2
      ]
    }
''
