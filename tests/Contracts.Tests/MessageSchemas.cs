using System.Collections.Concurrent;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;
using PaliGemma2.DocPipeline.Contracts;

namespace PaliGemma2.DocPipeline.Contracts.Tests;

/// <summary>Finds, loads and applies the committed schemas under <c>schemas/messages</c>.</summary>
internal static class MessageSchemas
{
    /// <summary>What MassTransit's System.Text.Json serializer writes: camelCase names, nulls kept.</summary>
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private static readonly ConcurrentDictionary<string, JsonSchema> Built = new();

    /// <summary>Every message record in the Contracts assembly (public, sealed, not static).</summary>
    public static IReadOnlyList<Type> MessageTypes { get; } = typeof(DocumentReceived).Assembly.GetExportedTypes()
        .Where(t => t is { IsClass: true, IsSealed: true, IsAbstract: false } && t.Namespace == typeof(DocumentReceived).Namespace)
        .OrderBy(t => t.Name, StringComparer.Ordinal)
        .ToList();

    public static string RepoRoot { get; } = FindRepoRoot();

    public static string Directory { get; } = Path.Combine(RepoRoot, "schemas", "messages");

    /// <summary><c>DocumentReceived</c> → <c>document-received.schema.json</c>.</summary>
    public static string FileNameOf(Type messageType)
    {
        ArgumentNullException.ThrowIfNull(messageType);
        var sb = new StringBuilder();
        foreach (var c in messageType.Name)
        {
            if (char.IsUpper(c) && sb.Length > 0)
            {
                sb.Append('-');
            }

            sb.Append(char.ToLowerInvariant(c));
        }

        return sb + ".schema.json";
    }

    public static string PathOf(Type messageType) => Path.Combine(Directory, FileNameOf(messageType));

    public static JsonObject RawSchema(Type messageType) =>
        JsonNode.Parse(File.ReadAllText(PathOf(messageType)))!.AsObject();

    public static JsonSchema SchemaOf(Type messageType) =>
        Built.GetOrAdd(PathOf(messageType), path => JsonSchema.FromText(File.ReadAllText(path),
            new BuildOptions { SchemaRegistry = new SchemaRegistry() }));

    /// <summary>Validates with format checks on (uuid, date-time are assertions, not annotations).</summary>
    public static EvaluationResults Evaluate(Type messageType, JsonNode? instance)
    {
        using var doc = JsonDocument.Parse(instance?.ToJsonString() ?? "null");
        return SchemaOf(messageType).Evaluate(doc.RootElement.Clone(), new EvaluationOptions
        {
            RequireFormatValidation = true,
            OutputFormat = OutputFormat.List,
        });
    }

    public static JsonObject Serialize(object message) =>
        JsonSerializer.SerializeToNode(message, message.GetType(), Json)!.AsObject();

    /// <summary>Errors flattened into one line, for assertion messages.</summary>
    public static string Describe(EvaluationResults results)
    {
        ArgumentNullException.ThrowIfNull(results);
        var lines = results.Details?
            .Where(d => d.Errors is { Count: > 0 })
            .SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation} {e.Key}: {e.Value}"))
            .ToList() ?? [];
        if (results.Errors is { Count: > 0 })
        {
            lines.AddRange(results.Errors.Select(e => $"{results.InstanceLocation} {e.Key}: {e.Value}"));
        }

        return lines.Count == 0 ? "(no details)" : string.Join("; ", lines);
    }

    /// <summary>True for a C# <c>required</c> member.</summary>
    public static bool IsRequired(PropertyInfo property) =>
        property.GetCustomAttributes().Any(a => a.GetType().FullName == "System.Runtime.CompilerServices.RequiredMemberAttribute");

    private static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "PaliGemma2.DocPipeline.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("PaliGemma2.DocPipeline.sln not found above the test binaries.");
    }
}
