using System.Text.Json;
using Json.Schema;

namespace PaliGemma2.DocPipeline.Pipeline.Intake;

/// <summary>
/// Validates a <c>SubmitDocument</c> as it arrived on the wire against
/// <c>schemas/messages/submit-document.schema.json</c> (embedded): the body itself for plain JSON, its
/// <c>message</c> member for a MassTransit envelope.
/// </summary>
public static class SubmitDocumentSchema
{
    /// <summary>Content type of MassTransit's JSON envelope.</summary>
    public const string EnvelopeContentType = "application/vnd.masstransit+json";

    private static readonly Lazy<JsonSchema> Schema = new(Load);

    /// <summary>Readable reasons why <paramref name="body"/> is not a valid SubmitDocument (empty when it is).</summary>
    public static IReadOnlyList<string> Validate(ReadOnlySpan<byte> body, string? contentType)
    {
        JsonElement message;
        try
        {
            using var doc = JsonDocument.Parse(body.ToArray());
            message = doc.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            return [$"the body is not JSON: {ex.Message}"];
        }

        if (string.Equals(contentType, EnvelopeContentType, StringComparison.OrdinalIgnoreCase))
        {
            if (message.ValueKind != JsonValueKind.Object || !TryGetMessage(message, out message))
            {
                return ["the MassTransit envelope has no 'message' object"];
            }
        }

        var results = Schema.Value.Evaluate(message, new EvaluationOptions { OutputFormat = OutputFormat.List });
        if (results.IsValid)
        {
            return [];
        }

        var errors = new List<string>();
        foreach (var d in (results.Details ?? []).Prepend(results))
        {
            foreach (var (keyword, error) in d.Errors ?? new Dictionary<string, string>())
            {
                var at = d.InstanceLocation.ToString();
                errors.Add($"{(at.Length == 0 ? "message" : at)}: {keyword}: {error}");
            }
        }

        return errors.Count > 0 ? errors.Distinct(StringComparer.Ordinal).ToList() : ["the message does not follow the schema"];
    }

    /// <summary>One readable line for the violations.</summary>
    public static string Describe(IReadOnlyList<string> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        return "SubmitDocument does not follow schemas/messages/submit-document.schema.json: " + string.Join("; ", errors);
    }

    private static bool TryGetMessage(JsonElement envelope, out JsonElement message)
    {
        foreach (var p in envelope.EnumerateObject())
        {
            // MassTransit reads envelope members case-insensitively.
            if (string.Equals(p.Name, "message", StringComparison.OrdinalIgnoreCase))
            {
                message = p.Value;
                return true;
            }
        }

        message = default;
        return false;
    }

    private static JsonSchema Load()
    {
        using var stream = typeof(SubmitDocumentSchema).Assembly.GetManifestResourceStream("schemas.messages.submit-document.schema.json")
            ?? throw new InvalidOperationException("The SubmitDocument schema is not embedded.");
        using var reader = new StreamReader(stream);
        return JsonSchema.FromText(reader.ReadToEnd(), new BuildOptions { SchemaRegistry = new SchemaRegistry() });
    }
}
