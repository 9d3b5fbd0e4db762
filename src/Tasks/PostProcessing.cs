using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using PaliGemma2.DocPipeline.Tasks.Molecules;
using PaliGemma2.DocPipeline.Tasks.Reports;
using PaliGemma2.DocPipeline.Tasks.Scores;
using PaliGemma2.DocPipeline.Tasks.Tables;

namespace PaliGemma2.DocPipeline.Tasks;

/// <summary>How the prepared page image was fitted to the model's R x R input (mirrors the checkpoint's image_mode).</summary>
public enum FitMode
{
    /// <summary>Longer side scaled to R, centred on a white square.</summary>
    PadToSquare,

    /// <summary>Stretched to R x R.</summary>
    Resize,
}

/// <summary>Order of the four <c>&lt;locNNNN&gt;</c> tokens in a table cell's <c>coords</c> attribute.</summary>
public enum BoxOrder
{
    /// <summary>x-min, y-min, x-max, y-max: how the table paper prints them (the default).</summary>
    XYXY,

    /// <summary>y-min, x-min, y-max, x-max: PaliGemma's detection output order.</summary>
    YXYX,
}

/// <summary>A born-digital PDF page's text layer as preparation stores it in <c>pages.text_layer</c>.</summary>
/// <param name="Width">Page width in PDF points.</param>
/// <param name="Height">Page height in PDF points.</param>
/// <param name="Words">Words with boxes in points, top-left origin.</param>
public sealed record PageText(
    [property: JsonPropertyName("width")] double Width,
    [property: JsonPropertyName("height")] double Height,
    [property: JsonPropertyName("words")] IReadOnlyList<PageWord> Words)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>Reads the stored JSON; null when absent, malformed or without a page size.</summary>
    public static PageText? Parse(string? json)
    {
        if (string.IsNullOrWhiteSpace(json))
        {
            return null;
        }

        try
        {
            var text = JsonSerializer.Deserialize<PageText>(json, Json);
            return text is { Width: > 0, Height: > 0 } ? text with { Words = text.Words ?? [] } : null;
        }
        catch (JsonException)
        {
            // A text layer is an optional aid: a broken one must not fail the result.
            return null;
        }
    }
}

/// <summary>One word of a <see cref="PageText"/>.</summary>
public sealed record PageWord(
    [property: JsonPropertyName("text")] string Text,
    [property: JsonPropertyName("x0")] double X0,
    [property: JsonPropertyName("y0")] double Y0,
    [property: JsonPropertyName("x1")] double X1,
    [property: JsonPropertyName("y1")] double Y1);

/// <summary>What a post-processor knows about the page and the checkpoint besides the decoded text.</summary>
public sealed record PostProcessingContext
{
    /// <summary>Model input resolution R.</summary>
    public int Resolution { get; init; } = 224;

    /// <summary>How the page image became the R x R input.</summary>
    public FitMode FitMode { get; init; } = FitMode.PadToSquare;

    /// <summary>Prepared page image width in pixels (0 when unknown: boxes then stay in model-input pixels).</summary>
    public int ImageWidth { get; init; }

    /// <summary>Prepared page image height in pixels.</summary>
    public int ImageHeight { get; init; }

    /// <summary>Order of the coords tokens (checkpoint.json <c>box_order</c>).</summary>
    public BoxOrder BoxOrder { get; init; } = BoxOrder.XYXY;

    /// <summary>Sections a report must have (checkpoint.json <c>report_sections</c>: FINDINGS, IMPRESSION); empty checks none.</summary>
    public IReadOnlyList<string> ReportSections { get; init; } = [];

    /// <summary>Why decoding stopped, recorded in the payload.</summary>
    public string? StopReason { get; init; }

    /// <summary>The PDF text layer of a born-digital page, or null.</summary>
    public PageText? TextLayer { get; init; }
}

/// <summary>A post-processed result: the payload to store and whether it is valid, with the reasons when not.</summary>
/// <param name="Payload">The JSON payload (always stored, valid or not).</param>
/// <param name="Valid">True when the task's checks and the payload schema both passed.</param>
/// <param name="Errors">Readable reasons; empty when valid.</param>
public sealed record PostProcessed(JsonObject Payload, bool Valid, IReadOnlyList<string> Errors)
{
    // Stored, never embedded in a page: keep <, > and non-ASCII readable for SQL users of the SQLite text columns.
    private static readonly JsonSerializerOptions Readable = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The payload as compact JSON text.</summary>
    public string PayloadJson => Payload.ToJsonString(Readable);

    /// <summary>The errors as a JSON array, or null when there are none (the column is null for valid rows).</summary>
    public string? ErrorsJson => Errors.Count == 0 ? null : new JsonArray(Errors.Select(e => (JsonNode?)JsonValue.Create(e)).ToArray()).ToJsonString(Readable);
}

/// <summary>
/// Runs the post-processor a checkpoint names (checkpoint.json <c>post_processor</c>) and validates the
/// payload against its schema. Never throws on model output: whatever the model wrote is stored, and
/// noise is marked invalid with the reasons.
/// </summary>
public static class TaskPostProcessor
{
    /// <summary>Post-processor names and the schema each payload follows.</summary>
    public static IReadOnlyDictionary<string, string> SchemaOf { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["table_html"] = "table",
        ["smiles"] = "molecule",
        ["kern"] = "score",
        ["report_sections"] = "report",
        ["none"] = "text",
    };

    /// <summary>Post-processes <paramref name="text"/> with the named post-processor.</summary>
    public static PostProcessed Process(string postProcessor, string text, PostProcessingContext context)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(context);
        var errors = new List<string>();
        JsonObject payload;
        string schema;
        switch (postProcessor)
        {
            case "table_html":
                payload = TablePostProcessor.Process(text, context, errors);
                schema = "table";
                break;
            case "smiles":
                payload = SmilesPostProcessor.Process(text, errors);
                schema = "molecule";
                break;
            case "kern":
                payload = KernPostProcessor.Process(text, errors);
                schema = "score";
                break;
            case "report_sections":
                payload = ReportPostProcessor.Process(text, errors, context.ReportSections);
                schema = "report";
                break;
            default:
                // An unknown name is the checkpoint author's mistake; keep the text and say so.
                payload = [];
                schema = "text";
                if (!string.Equals(postProcessor, "none", StringComparison.Ordinal))
                {
                    errors.Add($"Unknown post-processor '{postProcessor}'; only the text was kept.");
                }

                break;
        }

        var ordered = new JsonObject { ["text"] = text, ["stopReason"] = context.StopReason };
        foreach (var (key, value) in payload.ToList())
        {
            payload.Remove(key);
            ordered[key] = value;
        }

        errors.AddRange(PayloadSchemas.Validate(schema, ordered));
        return new PostProcessed(ordered, errors.Count == 0, errors);
    }
}
