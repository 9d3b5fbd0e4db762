using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace PaliGemma2.DocPipeline.Inference;

/// <summary>Options for <see cref="PaliGemmaModel.Load(string, ILogger?, PaliGemmaLoadOptions?)"/>.</summary>
public sealed class PaliGemmaLoadOptions
{
    /// <summary>Try the CUDA execution provider first (falls back to CPU with a warning). Default true.</summary>
    public bool PreferCuda { get; init; } = true;

    /// <summary>
    /// Refuse to load (an <see cref="InvalidOperationException"/> naming why) instead of falling back to the CPU
    /// when the CUDA execution provider cannot be loaded; implies <see cref="PreferCuda"/>. For GPU workers and
    /// benchmarks, where a silent CPU fallback would serve or measure the wrong thing.
    /// </summary>
    public bool RequireCuda { get; init; }

    /// <summary>CUDA device ordinal.</summary>
    public int CudaDeviceId { get; init; }

    /// <summary>ONNX Runtime intra-op threads; 0 lets ONNX Runtime decide.</summary>
    public int IntraOpNumThreads { get; init; }

    /// <summary>Graph file suffix for onnx-community dtype variants (for example <c>"_fp16"</c>); empty for plain files.</summary>
    public string GraphSuffix { get; init; } = string.Empty;

    /// <summary>Largest batch sent through the decoder at once.</summary>
    public int MaxBatchSize { get; init; } = 16;
}

/// <summary>The three sessions of a checkpoint plus what their metadata says about inputs and outputs.</summary>
internal sealed class GraphSet : IDisposable
{
    private readonly SessionOptions _options;

    private GraphSet(SessionOptions options, InferenceSession vision, InferenceSession embed, InferenceSession decoder, string provider)
    {
        _options = options;
        Vision = vision;
        Embed = embed;
        Decoder = decoder;
        Provider = provider;
    }

    public InferenceSession Vision { get; }

    public InferenceSession Embed { get; }

    public InferenceSession Decoder { get; }

    /// <summary>"CUDA" or "CPU".</summary>
    public string Provider { get; }

    public string VisionInput { get; private set; } = string.Empty;

    public TensorElementType VisionInputType { get; private set; }

    public string VisionOutput { get; private set; } = string.Empty;

    public TensorElementType VisionOutputType { get; private set; }

    public string EmbedInput { get; private set; } = string.Empty;

    public string EmbedOutput { get; private set; } = string.Empty;

    public TensorElementType EmbedOutputType { get; private set; }

    public TensorElementType EmbedsType { get; private set; }

    public TensorElementType KvType { get; private set; }

    public TensorElementType LogitsType { get; private set; }

    public bool HasAttentionMask { get; private set; }

    public bool HasPositionIds { get; private set; }

    public bool HasCacheBranch { get; private set; }

    public string[] PastNames { get; private set; } = [];

    public string[] DecoderOutputs { get; private set; } = [];

    /// <summary>Decoder input names in the order the engine fills them: embeds, mask, positions, branch, past.</summary>
    public string[] DecoderInputs { get; private set; } = [];

    /// <summary>Static vocabulary size of the logits, or -1 when dynamic.</summary>
    public int LogitsVocab { get; private set; } = -1;

    public static GraphSet Open(CheckpointInfo info, PaliGemmaLoadOptions options, ILogger logger)
    {
        string Find(string name)
        {
            var file = name + options.GraphSuffix + ".onnx";
            foreach (var candidate in new[] { Path.Combine(info.Directory, file), Path.Combine(info.Directory, "onnx", file) })
            {
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }

            return string.Empty;
        }

        var paths = new[] { "vision_encoder", "embed_tokens", "decoder_model_merged" }.Select(n => (Name: n, Path: Find(n))).ToArray();
        var missing = paths.Where(p => p.Path.Length == 0).Select(p => p.Name + options.GraphSuffix + ".onnx").ToArray();
        if (missing.Length > 0)
        {
            throw new CheckpointException($"Checkpoint '{info.Directory}' is missing {string.Join(", ", missing)} (looked in the directory and its onnx/ folder).");
        }

        var (sessionOptions, provider) = CreateOptions(options, logger);
        var sessions = new List<InferenceSession>();
        try
        {
            foreach (var (name, path) in paths)
            {
                try
                {
                    sessions.Add(new InferenceSession(path, sessionOptions));
                }
                catch (OnnxRuntimeException ex)
                {
                    throw new CheckpointException($"Checkpoint '{info.Directory}': {name} could not be loaded by ONNX Runtime: {ex.Message}", ex);
                }
            }

            var set = new GraphSet(sessionOptions, sessions[0], sessions[1], sessions[2], provider);
            set.Inspect(info);
            return set;
        }
        catch
        {
            foreach (var s in sessions)
            {
                s.Dispose();
            }

            sessionOptions.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        Vision.Dispose();
        Embed.Dispose();
        Decoder.Dispose();
        _options.Dispose();
    }

    private static (SessionOptions Options, string Provider) CreateOptions(PaliGemmaLoadOptions options, ILogger logger)
    {
        SessionOptions Cpu()
        {
            var o = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
            if (options.IntraOpNumThreads > 0)
            {
                o.IntraOpNumThreads = options.IntraOpNumThreads;
            }

            return o;
        }

        void Fallback(string reason)
        {
            if (options.RequireCuda)
            {
                throw new InvalidOperationException($"CUDA is required (RequireCuda) but its execution provider could not be loaded: {reason}");
            }

            Log.CudaFallback(logger, reason);
        }

        var tryCuda = options.PreferCuda || options.RequireCuda;
        if (tryCuda && !CudaRuntimePresent(out var missing))
        {
            // Without this probe ONNX Runtime prints a loud native error before our fallback can log a clean one.
            Fallback($"{missing} not found (ONNX Runtime 1.31's CUDA provider needs the CUDA 13 runtime and cuDNN 9)");
        }
        else if (tryCuda)
        {
            var cuda = Cpu();
            try
            {
                // Throws when libonnxruntime_providers_cuda or the CUDA 13 runtime / cuDNN 9 cannot load.
                cuda.AppendExecutionProvider_CUDA(options.CudaDeviceId);
                return (cuda, "CUDA");
            }
            catch (Exception ex) when (ex is OnnxRuntimeException or DllNotFoundException or EntryPointNotFoundException)
            {
                cuda.Dispose();
                Fallback(ex.Message.Split('\n')[0]);
            }
        }

        return (Cpu(), "CPU");
    }

    private static bool CudaRuntimePresent(out string missing)
    {
        foreach (var library in (string[])["libcudart.so.13", "libcublasLt.so.13", "libcudnn.so.9"])
        {
            if (!System.Runtime.InteropServices.NativeLibrary.TryLoad(library, out var handle))
            {
                missing = library;
                return false;
            }

            System.Runtime.InteropServices.NativeLibrary.Free(handle);
        }

        missing = "";
        return true;
    }

    private void Inspect(CheckpointInfo info)
    {
        var problems = new List<string>();

        // Vision encoder: one image input [B,3,R,R], first output [B,N,H].
        var vin = Vision.InputMetadata.Single();
        VisionInput = vin.Key;
        VisionInputType = vin.Value.ElementDataType;
        var vout = Vision.OutputMetadata.First();
        VisionOutput = vout.Key;
        VisionOutputType = vout.Value.ElementDataType;
        var vdims = vin.Value.Dimensions;
        if (vdims.Length != 4 || (vdims[2] > 0 && vdims[2] != info.Resolution) || (vdims[3] > 0 && vdims[3] != info.Resolution))
        {
            problems.Add($"vision_encoder input '{vin.Key}' has shape [{string.Join(",", vdims)}], expected [batch,3,{info.Resolution},{info.Resolution}]");
        }

        var odims = vout.Value.Dimensions;
        if (odims.Length != 3 || (odims[1] > 0 && odims[1] != info.NumImageTokens) || (odims[2] > 0 && odims[2] != info.HiddenSize))
        {
            problems.Add($"vision_encoder output '{vout.Key}' has shape [{string.Join(",", odims)}], expected [batch,{info.NumImageTokens},{info.HiddenSize}]");
        }

        // Token embedding: int64 ids -> [B,S,H].
        var ein = Embed.InputMetadata.First();
        EmbedInput = ein.Key;
        if (ein.Value.ElementDataType != TensorElementType.Int64)
        {
            problems.Add($"embed_tokens input '{ein.Key}' is {ein.Value.ElementDataType}, expected Int64");
        }

        var eout = Embed.OutputMetadata.First();
        EmbedOutput = eout.Key;
        EmbedOutputType = eout.Value.ElementDataType;

        // Decoder.
        var inputs = Decoder.InputMetadata;
        var outputs = Decoder.OutputMetadata;
        if (!inputs.TryGetValue("inputs_embeds", out var embeds))
        {
            problems.Add($"decoder_model_merged has no 'inputs_embeds' input (inputs: {string.Join(", ", inputs.Keys)})");
        }
        else
        {
            EmbedsType = embeds.ElementDataType;
        }

        HasAttentionMask = inputs.ContainsKey("attention_mask");
        HasPositionIds = inputs.ContainsKey("position_ids");
        HasCacheBranch = inputs.ContainsKey("use_cache_branch");
        if (info.NumLayers <= 0)
        {
            problems.Add("config.json text_config.num_hidden_layers is missing");
        }

        var past = new List<string>();
        var present = new List<string> { "logits" };
        for (var i = 0; i < info.NumLayers; i++)
        {
            foreach (var kind in new[] { "key", "value" })
            {
                var name = $"past_key_values.{i}.{kind}";
                past.Add(name);
                present.Add($"present.{i}.{kind}");
                if (!inputs.TryGetValue(name, out var meta))
                {
                    problems.Add($"decoder_model_merged has no input '{name}'");
                    continue;
                }

                KvType = meta.ElementDataType;
                var d = meta.Dimensions;
                if (d.Length != 4 || d[1] != info.NumKeyValueHeads || d[3] != info.HeadDim)
                {
                    problems.Add($"'{name}' has shape [{string.Join(",", d)}] but config.json says {info.NumKeyValueHeads} key/value heads of size {info.HeadDim}");
                }
            }
        }

        foreach (var name in present.Where(n => !outputs.ContainsKey(n)))
        {
            problems.Add($"decoder_model_merged has no output '{name}'");
        }

        var known = new HashSet<string>(past, StringComparer.Ordinal) { "inputs_embeds", "attention_mask", "position_ids", "use_cache_branch" };
        foreach (var name in inputs.Keys.Where(n => !known.Contains(n)))
        {
            problems.Add($"decoder_model_merged has an unexpected input '{name}'");
        }

        if (outputs.TryGetValue("logits", out var logits))
        {
            LogitsType = logits.ElementDataType;
            var d = logits.Dimensions;
            LogitsVocab = d.Length == 3 ? d[2] : -1;
            if (LogitsVocab > 0 && LogitsVocab != info.VocabSize)
            {
                problems.Add($"decoder logits have {LogitsVocab} entries but config.json vocab_size is {info.VocabSize}");
            }
        }

        foreach (var (what, type) in new[] { ("vision input", VisionInputType), ("vision output", VisionOutputType), ("embedding output", EmbedOutputType), ("inputs_embeds", EmbedsType), ("key/value cache", KvType), ("logits", LogitsType) })
        {
            if (!OrtTensors.IsSupported(type))
            {
                problems.Add($"{what} element type {type} is not float32 or float16");
            }
        }

        if (problems.Count > 0)
        {
            throw new CheckpointException($"Checkpoint '{info.Directory}' does not match the PaliGemma 2 graph layout: {string.Join("; ", problems)}.");
        }

        PastNames = [.. past];
        DecoderInputs =
        [
            "inputs_embeds",
            .. HasAttentionMask ? new[] { "attention_mask" } : [],
            .. HasPositionIds ? new[] { "position_ids" } : [],
            .. HasCacheBranch ? new[] { "use_cache_branch" } : [],
            .. past,
        ];
        DecoderOutputs = [.. present];
    }
}
