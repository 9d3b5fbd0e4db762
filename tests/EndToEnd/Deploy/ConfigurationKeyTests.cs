using System.Collections;
using System.Reflection;
using System.Text.RegularExpressions;
using PaliGemma2.DocPipeline.Tests.Shared;

namespace PaliGemma2.DocPipeline.EndToEnd.Deploy;

/// <summary>
/// The configuration keys the code binds, found by reflection over every options type (a class with a
/// <c>Section</c> constant) in the DocPipeline assemblies, plus the connection-string names and root keys the code
/// reads by name; each must be in the key table of deploy/README.md, and every key the deployment files set must be one
/// the code reads.
/// </summary>
public sealed partial class ConfigurationKeyTests
{
    private static readonly string[] HostKeyPrefixes = ["ASPNETCORE_", "DOTNET_", "Logging__", "NVIDIA_"];

    /// <summary>Every key as <c>Section:Property</c> (lists and dictionaries as their parent key).</summary>
    private static SortedSet<string> BoundKeys()
    {
        var keys = new SortedSet<string>(StringComparer.Ordinal);
        var assemblies = Directory.GetFiles(AppContext.BaseDirectory, "PaliGemma2.DocPipeline.*.dll")
            .Where(p => !p.Contains(".Tests.", StringComparison.Ordinal) && !p.EndsWith("EndToEnd.dll", StringComparison.Ordinal))
            .Select(Assembly.LoadFrom);
        foreach (var type in assemblies.SelectMany(a => a.GetTypes()))
        {
            if (type.GetField("Section", BindingFlags.Public | BindingFlags.Static) is { IsLiteral: true } field && field.GetRawConstantValue() is string section)
            {
                AddProperties(keys, section, type);
            }

            // A key read by name at the root, declared as a constant (PipelineRoles.Key = "Roles").
            if (type.GetField("Key", BindingFlags.Public | BindingFlags.Static) is { IsLiteral: true } k && k.GetRawConstantValue() is string rootKey)
            {
                keys.Add(rootKey);
            }
        }

        // Read by name rather than bound: connection strings and root keys.
        foreach (var file in Directory.GetFiles(TestServices.RepoRoot + "/src", "*.cs", SearchOption.AllDirectories).Where(f => !f.Contains("/obj/", StringComparison.Ordinal)))
        {
            var text = File.ReadAllText(file);
            keys.UnionWith(ConnectionStringRead().Matches(text).Select(m => "ConnectionStrings:" + m.Groups[1].Value));
            keys.UnionWith(RootKeyRead().Matches(text).Select(m => m.Groups["key"].Value));
        }

        return keys;
    }

    private static void AddProperties(SortedSet<string> keys, string prefix, Type type)
    {
        foreach (var p in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            var t = p.PropertyType;
            var bindable = p.SetMethod is { IsPublic: true } || typeof(IEnumerable).IsAssignableFrom(t) && t != typeof(string);
            if (!bindable)
            {
                continue;
            }

            var key = $"{prefix}:{p.Name}";
            if (t.IsClass && t != typeof(string) && t != typeof(Uri) && !typeof(IEnumerable).IsAssignableFrom(t) && t.Namespace?.StartsWith("PaliGemma2", StringComparison.Ordinal) == true)
            {
                AddProperties(keys, key, t);
            }
            else
            {
                keys.Add(key);
            }
        }
    }

    private static string KeyTable() => DeployTools.Text("deploy", "README.md");

    [Fact]
    public void Every_key_the_code_binds_is_in_the_deploy_key_table()
    {
        var keys = BoundKeys();
        // Sanity: the reflection found the options types at all (one known key per assembly family).
        Assert.Contains("Storage:BlobRoot", keys);
        Assert.Contains("Pacs:WriteBack:Modality", keys);
        Assert.Contains("ConnectionStrings:Postgres", keys);

        var table = KeyTable();
        var missing = keys.Where(k => !table.Contains($"`{k}`", StringComparison.Ordinal)).ToList();
        Assert.True(missing.Count == 0, "deploy/README.md does not document: " + string.Join(", ", missing));
        // The roles contract: one worker image, the role chosen by the Roles key.
        Assert.Contains("`Roles`", table, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_key_the_deployment_files_set_is_one_the_code_reads()
    {
        var keys = BoundKeys();
        var set = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var service in DeployTools.Compose("gpu", "cpu").GetProperty("services").EnumerateObject())
        {
            if (service.Value.TryGetProperty("environment", out var environment))
            {
                set.UnionWith(environment.EnumerateObject().Select(e => e.Name));
            }
        }
        foreach (var overlay in new[] { "cpu-demo", "gpu" })
        {
            var objects = DeployTools.Kustomize(overlay);
            foreach (var c in DeployTools.OfKind(objects, "Deployment").SelectMany(d => d.GetProperty("spec").GetProperty("template").GetProperty("spec").GetProperty("containers").EnumerateArray()))
            {
                set.UnionWith(DeployTools.Environment(objects, c).Keys);
            }
        }

        foreach (var dockerfile in Directory.GetFiles(DeployTools.RepoPath("deploy", "docker"), "*.Dockerfile"))
        {
            var envs = Dockerfile.Parse(dockerfile).Final.All("ENV").SelectMany(e => e.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries));
            set.UnionWith(envs.Select(e => e.Split('=')[0]));
        }

        var unknown = set.Where(k => !HostKeyPrefixes.Any(p => k.StartsWith(p, StringComparison.Ordinal)) && k.Contains("__", StringComparison.Ordinal) || k == "Roles")
            .Select(k => Regex.Replace(k.Replace("__", ":", StringComparison.Ordinal), @":(\d+)$", ""))
            // Inference:Tasks:<task> is a dictionary entry of Inference:Tasks.
            .Select(k => k.StartsWith("Inference:Tasks:", StringComparison.Ordinal) ? "Inference:Tasks" : k)
            .Where(k => !keys.Contains(k)).Distinct().ToList();
        Assert.True(unknown.Count == 0, "set by the deployment files but read by no code: " + string.Join(", ", unknown));
    }

    [GeneratedRegex(@"GetConnectionString\(""([A-Za-z0-9]+)""\)")]
    private static partial Regex ConnectionStringRead();

    // configuration["Key"] / Configuration["Key"] / GetValue<T>("Key") on the root: a key with no section.
    [GeneratedRegex(@"[Cc]onfiguration(?:\[""(?<key>[A-Za-z0-9]+)""\]|\.GetValue<[^>]+>\(""(?<key>[A-Za-z0-9]+)""\))")]
    private static partial Regex RootKeyRead();
}
