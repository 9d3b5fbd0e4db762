using System.Text.Json;

namespace PaliGemma2.DocPipeline.Inference;

/// <summary>What a checkpoint directory declares: <c>config.json</c> plus <c>checkpoint.json</c>.</summary>
public sealed record CheckpointInfo
{
    /// <summary>The checkpoint directory.</summary>
    public required string Directory { get; init; }

    /// <summary>Task the checkpoint was fine-tuned for (table, molecule, score, report, ...).</summary>
    public required string Task { get; init; }

    /// <summary>Checkpoint name.</summary>
    public required string Name { get; init; }

    /// <summary>Checkpoint version.</summary>
    public required string Version { get; init; }

    /// <summary>Input resolution R (224 / 448 / 896).</summary>
    public required int Resolution { get; init; }

    /// <summary>Default prompt prefix.</summary>
    public required string PromptPrefix { get; init; }

    /// <summary>Default cap on generated tokens.</summary>
    public required int MaxNewTokens { get; init; }

    /// <summary>Post-processor name (consumed by the task layer).</summary>
    public required string PostProcessor { get; init; }

    /// <summary>How images are fitted to R x R (checkpoint.json <c>image_mode</c>, required).</summary>
    public required ImageMode ImageMode { get; init; }

    /// <summary>Canvas colour around the fitted image when <see cref="ImageMode"/> is <see cref="ImageMode.Pad"/> (checkpoint.json <c>pad_color</c>).</summary>
    public PadColor PadColor { get; init; } = PadColor.White;

    /// <summary>Resampling filter (checkpoint.json <c>resample</c>, required).</summary>
    public required Resample Resample { get; init; }

    /// <summary>Whether the exported decoder applies Gemma 2's sliding window as HF does (checkpoint.json <c>sliding_window</c>, required).</summary>
    public required SlidingWindowMode SlidingWindow { get; init; }

    /// <summary>Order of a table cell's four <c>&lt;locNNNN&gt;</c> coords tokens: <c>xyxy</c> (default) or <c>yxyx</c> (checkpoint.json <c>box_order</c>).</summary>
    public string BoxOrder { get; init; } = "xyxy";

    /// <summary>
    /// Sections a report must have (checkpoint.json <c>report_sections</c>, e.g. <c>["FINDINGS", "IMPRESSION"]</c>,
    /// upper case): a report lacking one is stored invalid. Empty (the default) checks no structure.
    /// </summary>
    public IReadOnlyList<string> ReportSections { get; init; } = [];

    /// <summary>Ids that end generation: <c>generation_config.json</c>'s <c>eos_token_id</c> (one id or a list), else config.json's, else 1.</summary>
    public IReadOnlyList<int> StopIds { get; init; } = [1];

    /// <summary>Id of <c>&lt;image&gt;</c>; also the first id that is never emitted.</summary>
    public required int ImageTokenIndex { get; init; }

    /// <summary>Image tokens per image: (R / 14)^2.</summary>
    public required int NumImageTokens { get; init; }

    /// <summary>Decoder width.</summary>
    public required int HiddenSize { get; init; }

    /// <summary>Decoder layers.</summary>
    public required int NumLayers { get; init; }

    /// <summary>Key/value heads.</summary>
    public required int NumKeyValueHeads { get; init; }

    /// <summary>Head dimension.</summary>
    public required int HeadDim { get; init; }

    /// <summary>Rows of the (padded) embedding / logits.</summary>
    public required int VocabSize { get; init; }

    /// <summary>Reads <c>config.json</c> and, when present, <c>checkpoint.json</c>.</summary>
    /// <exception cref="CheckpointException">A file is missing, malformed or inconsistent.</exception>
    public static CheckpointInfo Read(string directory)
    {
        var configPath = Path.Combine(directory, "config.json");
        if (!File.Exists(configPath))
        {
            throw new CheckpointException($"Checkpoint '{directory}' has no config.json.");
        }

        try
        {
            using var config = JsonDocument.Parse(File.ReadAllText(configPath));
            var root = config.RootElement;
            var text = root.TryGetProperty("text_config", out var t) ? t : throw new CheckpointException($"{configPath} has no text_config.");
            var vision = root.TryGetProperty("vision_config", out var v) ? v : throw new CheckpointException($"{configPath} has no vision_config.");
            var modelType = Str(root, "model_type", "");
            if (!string.Equals(modelType, "paligemma", StringComparison.Ordinal))
            {
                throw new CheckpointException($"{configPath}: model_type is '{modelType}', expected 'paligemma'.");
            }

            var hidden = Int(text, "hidden_size", 0);
            var heads = Int(text, "num_attention_heads", 8);
            var imageSize = Int(vision, "image_size", 224);
            var patch = Int(vision, "patch_size", 14);
            var vocab = Int(text, "vocab_size", Int(root, "vocab_size", 257216));

            var checkpointPath = Path.Combine(directory, "checkpoint.json");
            if (!File.Exists(checkpointPath))
            {
                throw new CheckpointException($"Checkpoint '{directory}' has no checkpoint.json (task, name, version, image_mode, resample, sliding_window; see docs/export.md).");
            }

            using var cp = JsonDocument.Parse(File.ReadAllText(checkpointPath));
            var c = cp.RootElement;
            var task = Str(c, "task", "unknown");
            var name = Str(c, "name", Path.GetFileName(Path.TrimEndingDirectorySeparator(directory)));
            var version = Str(c, "version", "0");
            var resolution = Int(c, "resolution", imageSize);
            var prefix = Str(c, "prompt_prefix", string.Empty);
            var maxNew = Int(c, "max_new_tokens", 256);
            var post = Str(c, "post_processor", "none");

            // No silent defaults for what changes every pixel or every attention score: the checkpoint must say
            // what its fine-tune was trained with (docs/fidelity.md).
            var mode = Required(c, checkpointPath, "image_mode", "'resize' (stretch to R x R, as HF's PaliGemmaProcessor) or 'pad' (keep aspect, pad to square with pad_color)") switch
            {
                "resize" => ImageMode.Resize,
                "pad" => ImageMode.Pad,
                var other => throw new CheckpointException($"{checkpointPath}: image_mode '{other}' is not one of 'resize', 'pad'."),
            };
            var pad = PadColor.White;
            if (mode == ImageMode.Pad)
            {
                var padText = Required(c, checkpointPath, "pad_color", "'#rrggbb', e.g. '#ffffff' (white, tables in the PaliGemma 2 paper) or '#000000'");
                pad = PadColor.TryParse(padText, out var parsed)
                    ? parsed
                    : throw new CheckpointException($"{checkpointPath}: pad_color '{padText}' is not '#rrggbb'.");
            }

            var resample = Required(c, checkpointPath, "resample", "'bicubic' (PIL bicubic, as HF) or 'bilinear' (as big_vision)") switch
            {
                "bicubic" => Resample.Bicubic,
                "bilinear" => Resample.Bilinear,
                var other => throw new CheckpointException($"{checkpointPath}: resample '{other}' is not one of 'bicubic', 'bilinear'."),
            };
            var window = Required(c, checkpointPath, "sliding_window", "'hf' (the config's window on the layers HF applies it to) or 'none' (global attention, as big_vision trained)") switch
            {
                "hf" => SlidingWindowMode.Hf,
                "none" => SlidingWindowMode.None,
                var other => throw new CheckpointException($"{checkpointPath}: sliding_window '{other}' is not one of 'hf', 'none'."),
            };
            CheckPreprocessorConfig(directory, resample, resolution);
            var boxOrder = Str(c, "box_order", "xyxy");
            if (boxOrder is not ("xyxy" or "yxyx"))
            {
                throw new CheckpointException($"{checkpointPath}: box_order '{boxOrder}' is not one of 'xyxy', 'yxyx'.");
            }

            var sections = ReadReportSections(c, checkpointPath);
            if (resolution != imageSize)
            {
                throw new CheckpointException($"checkpoint.json says resolution {resolution} but config.json vision_config.image_size is {imageSize}.");
            }

            if (hidden <= 0)
            {
                throw new CheckpointException($"{configPath}: text_config.hidden_size is missing.");
            }

            return new CheckpointInfo
            {
                Directory = directory,
                Task = task,
                Name = name,
                Version = version,
                Resolution = resolution,
                PromptPrefix = prefix,
                MaxNewTokens = maxNew,
                PostProcessor = post,
                ImageMode = mode,
                PadColor = pad,
                Resample = resample,
                SlidingWindow = window,
                BoxOrder = boxOrder,
                ReportSections = sections,
                StopIds = ReadStopIds(directory, root, text),
                ImageTokenIndex = Int(root, "image_token_index", 257152),
                NumImageTokens = (imageSize / patch) * (imageSize / patch),
                HiddenSize = hidden,
                NumLayers = Int(text, "num_hidden_layers", 0),
                NumKeyValueHeads = Int(text, "num_key_value_heads", heads),
                HeadDim = Int(text, "head_dim", 256), // Gemma 2's default when a config omits it
                VocabSize = vocab,
            };
        }
        catch (JsonException ex)
        {
            throw new CheckpointException($"Checkpoint '{directory}': a JSON file is malformed: {ex.Message}", ex);
        }
    }

    // preprocessor_config.json is what transformers.js and HF's processor read; the engine normalises with
    // mean = std = 0.5 and resamples as checkpoint.json says, so a file that says otherwise is a contradiction.
    private static void CheckPreprocessorConfig(string directory, Resample resample, int resolution)
    {
        var path = Path.Combine(directory, "preprocessor_config.json");
        if (!File.Exists(path))
        {
            return;
        }

        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        var root = doc.RootElement;
        foreach (var key in new[] { "image_mean", "image_std" })
        {
            if (root.TryGetProperty(key, out var values) && values.ValueKind == JsonValueKind.Array
                && values.EnumerateArray().Any(v => v.ValueKind != JsonValueKind.Number || Math.Abs(v.GetDouble() - 0.5) > 1e-9))
            {
                throw new CheckpointException($"{path}: {key} is {values.GetRawText()}; the engine normalises with 0.5 per channel (SigLIP).");
            }
        }

        if (root.TryGetProperty("resample", out var r) && r.ValueKind == JsonValueKind.Number)
        {
            // PIL's filter numbers: 2 = BILINEAR, 3 = BICUBIC.
            var declared = resample == Resample.Bicubic ? 3 : 2;
            if (r.GetInt32() != declared)
            {
                throw new CheckpointException($"{path}: resample is {r.GetInt32()} but checkpoint.json says '{resample.ToString().ToLowerInvariant()}' (PIL {declared}); make them agree.");
            }
        }

        if (root.TryGetProperty("size", out var size) && size.ValueKind == JsonValueKind.Object
            && (Int(size, "height", resolution) != resolution || Int(size, "width", resolution) != resolution))
        {
            throw new CheckpointException($"{path}: size {size.GetRawText()} is not the checkpoint's resolution {resolution}.");
        }
    }

    // HF's generate() stops on every id of generation_config.json's eos_token_id; PaliGemma 2 exports list 1 only,
    // but fine-tunes may add more (e.g. 107, <end_of_turn>).
    private static int[] ReadStopIds(string directory, JsonElement config, JsonElement textConfig)
    {
        var path = Path.Combine(directory, "generation_config.json");
        if (File.Exists(path))
        {
            using var gen = JsonDocument.Parse(File.ReadAllText(path));
            if (Ids(gen.RootElement) is { } fromGeneration)
            {
                return fromGeneration;
            }
        }

        return Ids(config) ?? Ids(textConfig) ?? [1];

        static int[]? Ids(JsonElement e) => !e.TryGetProperty("eos_token_id", out var p) ? null : p.ValueKind switch
        {
            JsonValueKind.Number => [p.GetInt32()],
            JsonValueKind.Array when p.GetArrayLength() > 0 => [.. p.EnumerateArray().Select(x => x.GetInt32())],
            _ => null,
        };
    }

    // The report post-processor knows two headings; a declaration naming another would never be met.
    private static string[] ReadReportSections(JsonElement c, string path)
    {
        if (!c.TryGetProperty("report_sections", out var p) || p.ValueKind == JsonValueKind.Null)
        {
            return [];
        }

        string[] known = ["FINDINGS", "IMPRESSION"];
        if (p.ValueKind != JsonValueKind.Array || p.EnumerateArray().Any(v => v.ValueKind != JsonValueKind.String
            || !known.Contains(v.GetString()!.Trim().ToUpperInvariant(), StringComparer.Ordinal)))
        {
            throw new CheckpointException($"{path}: report_sections must be a list of {string.Join(", ", known.Select(k => $"\"{k}\""))}, not {p.GetRawText()}.");
        }

        return [.. p.EnumerateArray().Select(v => v.GetString()!.Trim().ToUpperInvariant()).Distinct(StringComparer.Ordinal)];
    }

    private static string Required(JsonElement e, string path, string name, string choices) =>
        e.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.String && !string.IsNullOrEmpty(p.GetString())
            ? p.GetString()!
            : throw new CheckpointException($"{path} does not declare \"{name}\": set it to {choices}, as the fine-tune was trained (docs/fidelity.md).");

    private static int Int(JsonElement e, string name, int fallback) =>
        e.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.Number ? p.GetInt32() : fallback;

    private static string Str(JsonElement e, string name, string fallback) =>
        e.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.String ? p.GetString() ?? fallback : fallback;
}
