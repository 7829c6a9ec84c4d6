#include "cli/commands.h"

#include <algorithm>
#include <csignal>
#include <iostream>
#include <map>
#include <optional>
#include <string_view>
#include <vector>

#include "runtime/api/resources.h"
#include "runtime/core/fatal.h"
#include "runtime/core/strings.h"

namespace ticketctl::cli {
namespace {

constexpr Verb kVerbs[] = {
    {"validate", "Check manifests as strictly as a Kubernetes API server would", attach_validate,
     "ticketctl validate -f infra/k8s\n"
     "ticketctl validate -f './infra/k8s/*' -o json\n"
     "cat deploy.yaml | ticketctl validate -f -"},
    {"convert", "Rewrite legacy Ingress manifests as networking.k8s.io/v1", attach_convert,
     "ticketctl convert -f infra/k8s/ingress-srv.yaml > ingress-v1.yaml"},
    {"up", "Start the control plane and run the manifests: pods, Services, the ingress", attach_up,
     "ticketctl up                      # in the foreground; Ctrl-C stops everything\n"
     "ticketctl up -d --timeout 90s     # in the background, once every Deployment is ready\n"
     "ticketctl up -f infra/k8s --build\n"
     "ticketctl up -d --empty           # an empty control plane, for kubectl apply"},
    {"down", "Stop the control plane", attach_down, "ticketctl down"},
    {"build", "Run the images' build commands whose inputs changed", attach_build,
     "ticketctl build\n"
     "ticketctl build demo/posts --force"},
    {"dev", "up, then rebuild and restart pods on file changes, re-apply changed manifests",
     attach_dev, "ticketctl dev"},
    {"apply", "Create or update objects from manifests", attach_apply,
     "ticketctl apply -f infra/k8s\n"
     "ticketctl apply -f posts-depl.yaml -f posts-srv.yaml"},
    {"get", "List objects or show them by name", attach_get,
     "ticketctl get pods -o wide\n"
     "ticketctl get deploy/posts-depl -o yaml\n"
     "ticketctl get pods -l app=posts -L app --show-labels\n"
     "ticketctl get pods -o custom-columns=NAME:.metadata.name,IP:.status.podIP\n"
     "ticketctl get pods -o jsonpath='{.items[*].metadata.name}'\n"
     "ticketctl get all -A"},
    {"explain", "Show a kind's fields, or one field's, from the schemas manifests are checked with",
     attach_explain,
     "ticketctl explain deployment\n"
     "ticketctl explain deploy.spec.template.spec.containers\n"
     "ticketctl explain ingress.spec.rules.http.paths.pathType"},
    {"describe", "Show an object in detail, with related objects and events", attach_describe,
     "ticketctl describe pods\n"
     "ticketctl describe deploy/posts-depl\n"
     "ticketctl describe svc posts-srv"},
    {"logs", "Print or follow a container's log (a pod, a deployment's pod, or -l)", attach_logs,
     "ticketctl logs deploy/posts-depl -f\n"
     "ticketctl logs -l app=posts --tail 20\n"
     "ticketctl logs POD --previous"},
    {"create", "Create a Secret, ConfigMap or Namespace from the command line", attach_create,
     "ticketctl create secret generic jwt-secret --from-literal=JWT_KEY=asdf\n"
     "ticketctl create configmap app-config --from-file=config.json\n"
     "ticketctl create namespace staging"},
    {"delete", "Delete objects by kind and name, selector, or manifest", attach_delete,
     "ticketctl delete pod/posts-depl-7c9d8f6b5-x2k4q\n"
     "ticketctl delete -f infra/k8s/posts-depl.yaml\n"
     "ticketctl delete pods -l app=posts\n"
     "ticketctl delete configmaps --all"},
    {"label", "Add, change or remove labels of objects", attach_label,
     "ticketctl label pod/posts-depl-7c9d8f6b5-x2k4q tier=backend\n"
     "ticketctl label deploy posts-depl tier=api --overwrite\n"
     "ticketctl label pods -l app=posts canary-\n"
     "ticketctl label pods --all env=dev"},
    {"annotate", "Add, change or remove annotations of objects", attach_annotate,
     "ticketctl annotate deploy/posts-depl owner='the posts team'\n"
     "ticketctl annotate svc posts-srv description=public --overwrite\n"
     "ticketctl annotate pods -l app=posts note-"},
    {"patch", "Change fields of an object with a strategic, merge or JSON patch", attach_patch,
     "ticketctl patch deploy/posts-depl -p '{\"spec\":{\"replicas\":2}}'\n"
     "ticketctl patch svc posts-srv --type merge -p '{\"metadata\":{\"labels\":{\"a\":\"b\"}}}'\n"
     "ticketctl patch deploy/posts-depl --type json \\\n"
     "  -p '[{\"op\":\"replace\",\"path\":\"/spec/template/spec/containers/0/image\","
     "\"value\":\"x/posts:2\"}]'"},
    {"edit", "Edit an object as YAML in your editor, then save it back", attach_edit,
     "ticketctl edit deploy/posts-depl\n"
     "KUBE_EDITOR='code --wait' ticketctl edit svc posts-srv"},
    {"set", "Set the image of containers (set image)", attach_set,
     "ticketctl set image deploy/posts-depl posts=demo/posts:2\n"
     "ticketctl set image deployment posts-depl '*=demo/posts:2'"},
    {"rollout", "Restart a Deployment, follow its rollout, show its history, undo it",
     attach_rollout,
     "ticketctl rollout restart deploy/posts-depl\n"
     "ticketctl rollout status deploy/posts-depl --timeout 60s\n"
     "ticketctl rollout undo deploy/posts-depl"},
    {"scale", "Set the replicas of a Deployment or ReplicaSet", attach_scale,
     "ticketctl scale deploy/posts-depl --replicas 3"},
    {"wait", "Wait for a condition on objects, or for their deletion", attach_wait,
     "ticketctl wait --for=condition=Ready pod -l app=posts --timeout 60s\n"
     "ticketctl wait --for=condition=Available deploy/posts-depl\n"
     "ticketctl wait --for=delete pod/posts-depl-7c9d8f6b5-x2k4q"},
    {"test", "Start the app, gate on its Deployments, run smoke checks, write JUnit", attach_test,
     "ticketctl test -f smoke.yaml --junit report.xml --artifacts out/\n"
     "ticketctl up -d && ticketctl test --attach -f smoke.yaml"},
    {"port-forward", "Forward local ports to a pod, deployment or service", attach_port_forward,
     "ticketctl port-forward svc/posts-srv 4000:4000\n"
     "ticketctl port-forward deploy/nats-depl 8222"},
    {"exec", "Run a command with a container's environment, directory and network identity",
     attach_exec,
     "ticketctl exec posts-depl-7c9d8f6b5-x2k4q -- env\n"
     "ticketctl exec -it deploy/posts-depl -- sh"},
    {"tap", "Watch live HTTP exchanges to a Service, Deployment, pod or the ingress", attach_tap,
     "ticketctl tap                                  # everything the ingress and the relay see\n"
     "ticketctl tap ingress\n"
     "ticketctl tap svc/query-srv\n"
     "ticketctl tap deploy/event-bus-depl --body -o json\n"
     "ticketctl tap ingress -o json --max 1          # scripts: the next request, then exit"},
    {"dashboard", "Print (or open) the URL of the control plane's live web UI", attach_dashboard,
     "ticketctl dashboard\n"
     "ticketctl dashboard --open"},
    {"status", "Show whether the control plane runs, where, and what it stores", attach_status,
     "ticketctl status"},
    {"config", "Show the kubeconfig for kubectl (view, path)", attach_config,
     "ticketctl config view\n"
     "export KUBECONFIG=$(ticketctl config path)"},
    {"ingress", "The built-in ingress: its CA (how to trust it) and its ports", attach_ingress,
     "ticketctl ingress ca\n"
     "ticketctl ingress ports"},
    {"init", "Start an app here, or make an existing repository runnable: manifests, skaffold",
     attach_init,
     "ticketctl init shop\n"
     "ticketctl init --dry-run"},
    {"new", "Add a service (node, node-ts, cpp): code, tests, manifests, ingress path", attach_new,
     "ticketctl new service auth\n"
     "ticketctl new service tickets -t node-ts --secret jwt-secret:JWT_KEY --db redis"},
    {"version", "Print the ticketctl version", attach_version,
     "ticketctl version\n"
     "ticketctl version -o json"},
};

// `completion bash|zsh`: a script built from the registered subcommands and options, so it
// follows the table; object names come from `ticketctl get KIND -o name` when completing.
std::string completion_script(const CLI::App& app, const std::string& shell) {
  std::string verbs = "--help --version";
  std::string cases;
  for (const CLI::App* sub : app.get_subcommands({})) {
    verbs += " " + sub->get_name();
    std::string words;
    for (const CLI::App* nested : sub->get_subcommands({})) words += nested->get_name() + " ";
    for (const CLI::App* owner : {sub}) {
      std::vector<const CLI::App*> apps{owner};
      for (const CLI::App* nested : owner->get_subcommands({})) apps.push_back(nested);
      for (const CLI::App* a : apps)
        for (const CLI::Option* o : a->get_options()) {
          for (const std::string& n : o->get_snames()) words += "-" + n + " ";
          for (const std::string& n : o->get_lnames()) words += "--" + n + " ";
        }
    }
    cases += "    " + sub->get_name() + ") words=\"" + words + "\";;\n";
  }
  std::string kinds;
  for (const api::Resource& r : api::all_resources()) {
    kinds += std::string(r.plural) + " " + std::string(r.singular) + " ";
    for (std::string_view n : r.short_names) kinds += std::string(n) + " ";
  }
  std::string script =
      std::string(shell == "zsh" ? "#compdef ticketctl\n"
                                   "autoload -U +X bashcompinit && bashcompinit\n"
                                 : "") +
      "# ticketctl completion for " + shell + " (generated by `ticketctl completion " + shell +
      "`; load it with\n# source <(ticketctl completion " + shell + "))\n" +
      "_ticketctl_names() {\n"
      "  local state=() i\n"
      "  for ((i = 1; i < ${#COMP_WORDS[@]}; i++)); do\n"
      "    case ${COMP_WORDS[i]} in\n"
      "      --state-dir) state=(--state-dir \"${COMP_WORDS[i+1]}\");;\n"
      "      --state-dir=*) state=(\"${COMP_WORDS[i]}\");;\n"
      "    esac\n"
      "  done\n"
      "  \"${COMP_WORDS[0]}\" get \"$1\" -o name \"${state[@]}\" 2>/dev/null | "
      "sed 's|^[^/]*/||'\n"
      "}\n"
      "_ticketctl() {\n"
      "  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
      "  local verb=${COMP_WORDS[1]} words=\"\" kinds=\"" +
      kinds +
      "\"\n"
      "  COMPREPLY=()\n"
      "  if [[ $COMP_CWORD -eq 1 ]]; then\n"
      "    COMPREPLY=($(compgen -W \"" +
      verbs +
      "\" -- \"$cur\"))\n"
      "    return 0\n"
      "  fi\n"
      "  case $verb in\n" +
      cases +
      "  esac\n"
      "  if [[ $cur == -* ]]; then\n"
      "    COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
      "  elif [[ $cur == */* ]]; then\n"
      "    local kind=${cur%%/*}\n"
      "    COMPREPLY=($(compgen -P \"$kind/\" -W \"$(_ticketctl_names \"$kind\")\" "
      "-- \"${cur#*/}\"))\n"
      "  elif [[ \" $kinds \" == *\" $prev \"* && $COMP_CWORD -ge 3 ]]; then\n"
      "    COMPREPLY=($(compgen -W \"$(_ticketctl_names \"$prev\")\" -- \"$cur\"))\n"
      "  else\n"
      "    local nested=\"\" w\n"
      "    for w in $words; do [[ $w != -* ]] && nested+=\"$w \"; done\n"
      "    COMPREPLY=($(compgen -W \"$nested $kinds\" -- \"$cur\"))\n"
      "  fi\n"
      "  return 0\n"
      "}\n"
      "complete -o default -F _ticketctl ticketctl\n";
  return script;
}

}  // namespace

int run(int argc, char** argv) {
  // A client (and the control plane) writing to a socket or pipe whose reader is gone should
  // see EPIPE and finish cleanly, not die of SIGPIPE; pods get default dispositions back.
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"ticketctl runs Kubernetes manifests as local processes, without a cluster."};
  app.name("ticketctl");
  app.require_subcommand(1);
  app.fallthrough(false);
  app.set_version_flag("--version", "ticketctl v" TICKETCTL_VERSION);
  std::map<const CLI::App*, Handler> handlers;
  for (const Verb& v : kVerbs) {
    CLI::App* sub = app.add_subcommand(std::string(v.name), std::string(v.summary));
    handlers[sub] = v.attach(*sub);
    // Every verb's help ends with examples, indented, after what the verb itself says.
    std::string examples = "Examples:\n";
    for (size_t at = 0; at < v.examples.size();) {
      const size_t eol = std::min(v.examples.find('\n', at), v.examples.size());
      examples += "  " + std::string(v.examples.substr(at, eol - at)) + "\n";
      at = eol + 1;
    }
    const std::string footer = sub->get_footer();
    sub->footer(footer.empty() ? examples : footer + "\n\n" + examples);
  }
  // `completion` reads the whole command tree, so it is added here, after every other verb.
  CLI::App* completion =
      app.add_subcommand("completion", "Print a bash or zsh completion script for ticketctl");
  auto shell = std::make_shared<std::string>();
  completion->add_option("shell", *shell, "bash or zsh")
      ->required()
      ->check(CLI::IsMember({"bash", "zsh"}));
  completion->footer(
      "Completes verbs, flags, kinds and, by asking the running control plane (`ticketctl get\n"
      "KIND -o name`), object names.\n\n"
      "Examples:\n"
      "  ticketctl completion zsh > \"${fpath[1]}/_ticketctl\"\n"
      "  source <(ticketctl completion bash)          # in ~/.bashrc");
  handlers[completion] = [&app, shell] {
    std::cout << completion_script(app, *shell);
    return kExitOk;
  };
  // A mistyped verb: say which one was meant, as kubectl does ("Did you mean this?"), rather
  // than CLI11's "A subcommand is required".
  if (argc > 1 && argv[1][0] != '-') {
    const std::string_view typed = argv[1];
    std::vector<std::string_view> names;
    for (const Verb& v : kVerbs) names.push_back(v.name);
    names.push_back("completion");
    if (std::find(names.begin(), names.end(), typed) == names.end()) {
      std::cerr << "ticketctl: unknown command \"" << typed << "\"\n";
      if (std::optional<std::string_view> near = nearest(typed, names))
        std::cerr << "\nDid you mean this?\n\t" << *near << "\n\n";
      std::cerr << "Run 'ticketctl --help' for the list of commands.\n";
      return kExitUsage;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  try {
    for (const CLI::App* sub : app.get_subcommands()) return handlers.at(sub)();
  } catch (const Fatal& e) {
    std::cerr << "ticketctl: " << e.what() << '\n';
    return kExitFailure;
  } catch (const std::exception& e) {
    std::cerr << "ticketctl: internal error: " << e.what() << '\n';
    return kExitFailure;
  }
  return kExitUsage;
}

}  // namespace ticketctl::cli
