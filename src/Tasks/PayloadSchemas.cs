using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;

namespace PaliGemma2.DocPipeline.Tasks;

/// <summary>The result payload schemas (<c>schemas/results/*.schema.json</c>, embedded in this assembly).</summary>
public static class PayloadSchemas
{
    private static readonly ConcurrentDictionary<string, JsonSchema> Built = new(StringComparer.Ordinal);

    /// <summary>Names of the embedded schemas (table, molecule, score, report, text).</summary>
    public static IReadOnlyList<string> Names { get; } = typeof(PayloadSchemas).Assembly.GetManifestResourceNames()
        .Where(n => n.StartsWith("schemas.results.", StringComparison.Ordinal))
        .Select(n => n["schemas.results.".Length..^".schema.json".Length])
        .Order(StringComparer.Ordinal)
        .ToList();

    /// <summary>Validates <paramref name="payload"/>; returns readable errors (empty when valid).</summary>
    public static IReadOnlyList<string> Validate(string schemaName, JsonNode? payload)
    {
        var schema = Built.GetOrAdd(schemaName, Load);
        using var doc = JsonDocument.Parse(payload?.ToJsonString() ?? "null");
        var results = schema.Evaluate(doc.RootElement.Clone(), new EvaluationOptions { OutputFormat = OutputFormat.List });
        if (results.IsValid)
        {
            return [];
        }

        var errors = new List<string>();
        foreach (var d in results.Details ?? [])
        {
            foreach (var (k, v) in d.Errors ?? new Dictionary<string, string>())
            {
                errors.Add($"schema {schemaName}: {d.InstanceLocation} {k}: {v}");
            }
        }

        foreach (var (k, v) in results.Errors ?? new Dictionary<string, string>())
        {
            errors.Add($"schema {schemaName}: {results.InstanceLocation} {k}: {v}");
        }

        return errors.Count > 0 ? errors : [$"schema {schemaName}: payload does not validate."];
    }

    private static JsonSchema Load(string name)
    {
        using var stream = typeof(PayloadSchemas).Assembly.GetManifestResourceStream($"schemas.results.{name}.schema.json")
            ?? throw new InvalidOperationException($"No embedded schema '{name}'.");
        using var reader = new StreamReader(stream);
        // A registry per schema: the $id of each is global, and several loads must not clash.
        return JsonSchema.FromText(reader.ReadToEnd(), new BuildOptions { SchemaRegistry = new SchemaRegistry() });
    }
}
