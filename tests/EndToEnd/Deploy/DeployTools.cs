using System.Diagnostics;
using System.Text;
using System.Text.Json;
using PaliGemma2.DocPipeline.Tests.Shared;

namespace PaliGemma2.DocPipeline.EndToEnd.Deploy;

/// <summary>Runs the real deployment tools (kubectl kustomize, docker-compose, dotnet publish, node) for the deploy tests.</summary>
internal static class DeployTools
{
    public static string Root => TestServices.RepoRoot;

    public static string RepoPath(params string[] parts) => Path.Combine([Root, .. parts]);

    public static string Configuration => AppContext.BaseDirectory.Contains("/Release/", StringComparison.Ordinal) ? "Release" : "Debug";

    public static (int Code, string Stdout, string Stderr) Run(
        string file, IEnumerable<string> args, string? stdin = null, string? workingDirectory = null,
        IDictionary<string, string>? environment = null, int timeoutSeconds = 300)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Root,
        };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[k] = v;
        }

        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"{file} did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            process.StandardInput.Write(stdin);
            process.StandardInput.Close();
        }

        if (!process.WaitForExit(TimeSpan.FromSeconds(timeoutSeconds)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} ran over {timeoutSeconds} s");
        }

        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>YAML documents as JSON through tools/k8scheck (npm ci there first, as scripts/test.sh does).</summary>
    public static JsonElement YamlToJson(string yaml, bool validateSchemas)
    {
        var tool = RepoPath("tools", "k8scheck");
        Assert.True(Directory.Exists(Path.Combine(tool, "node_modules")), "run `npm ci` in tools/k8scheck (scripts/test.sh does)");
        var (code, stdout, stderr) = Run("node", [Path.Combine(tool, "check.mjs"), validateSchemas ? "validate" : "json"], stdin: yaml);
        Assert.True(code == 0, $"tools/k8scheck refused the YAML:\n{stderr}");
        using var doc = JsonDocument.Parse(stdout);
        return doc.RootElement.Clone();
    }

    /// <summary><c>kubectl kustomize</c> of an overlay, every object validated against the Kubernetes and KEDA schemas.</summary>
    public static IReadOnlyList<JsonElement> Kustomize(string overlay)
    {
        var (code, yaml, stderr) = Run("kubectl", ["kustomize", RepoPath("deploy", "k8s", "overlays", overlay)]);
        Assert.True(code == 0, $"kubectl kustomize {overlay} failed:\n{stderr}");
        return [.. YamlToJson(yaml, validateSchemas: true).EnumerateArray()];
    }

    /// <summary>
    /// <c>docker-compose config</c> (Debian's docker-compose; it needs no engine for this) of the repository's compose
    /// file with the given profiles, as JSON. The secrets it requires get placeholder values.
    /// </summary>
    public static JsonElement Compose(params string[] profiles)
    {
        var args = new List<string> { "--project-directory", Root, "-f", RepoPath("docker-compose.yml") };
        foreach (var p in profiles)
        {
            args.AddRange(["--profile", p]);
        }

        args.Add("config");
        var secrets = new Dictionary<string, string>
        {
            ["POSTGRES_PASSWORD"] = "placeholder-pg", ["RABBITMQ_PASSWORD"] = "placeholder-mq",
            ["DOCPIPE_API_KEY"] = "placeholder-key", ["ORTHANC_PASSWORD"] = "placeholder-orthanc",
        };
        var (code, yaml, stderr) = Run("docker-compose", args, environment: secrets);
        Assert.True(code == 0, $"docker-compose config failed:\n{stderr}");
        return YamlToJson(yaml, validateSchemas: false)[0];
    }

    public static JsonElement Single(IEnumerable<JsonElement> objects, string kind, string name) =>
        objects.Single(o => o.GetProperty("kind").GetString() == kind && o.GetProperty("metadata").GetProperty("name").GetString() == name);

    public static IEnumerable<JsonElement> OfKind(IEnumerable<JsonElement> objects, string kind) =>
        objects.Where(o => o.GetProperty("kind").GetString() == kind);

    /// <summary>A container's environment as Kubernetes would give it: the ConfigMaps it loads, then its own env (which wins).</summary>
    public static Dictionary<string, string?> Environment(IReadOnlyList<JsonElement> objects, JsonElement container)
    {
        var env = new Dictionary<string, string?>(StringComparer.Ordinal);
        if (container.TryGetProperty("envFrom", out var envFrom))
        {
            foreach (var source in envFrom.EnumerateArray())
            {
                if (source.TryGetProperty("configMapRef", out var cm))
                {
                    var map = Single(objects, "ConfigMap", cm.GetProperty("name").GetString()!);
                    foreach (var p in map.GetProperty("data").EnumerateObject())
                    {
                        env[p.Name] = p.Value.GetString();
                    }
                }
            }
        }

        if (container.TryGetProperty("env", out var list))
        {
            foreach (var e in list.EnumerateArray())
            {
                // A secret's value is not in the repository: null says "set, from a Secret".
                env[e.GetProperty("name").GetString()!] = e.TryGetProperty("value", out var v) ? v.GetString() : null;
            }
        }

        return env;
    }

    /// <summary>Publishes a project the way its Dockerfile does (dotnet publish -c Release -o), from the tests' own build.</summary>
    public static string Publish(string project)
    {
        var output = TestServices.NewTempDirectory("publish");
        var (code, stdout, stderr) = Run("dotnet",
            ["publish", RepoPath(project), "-c", Configuration, "--no-build", "--nologo", "-o", output], timeoutSeconds: 600);
        Assert.True(code == 0, $"dotnet publish {project} failed:\n{stdout}\n{stderr}");
        return output;
    }

    public static string Text(params string[] parts) => File.ReadAllText(RepoPath(parts), Encoding.UTF8);
}
