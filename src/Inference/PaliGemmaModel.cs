using System.Buffers;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace PaliGemma2.DocPipeline.Inference;

/// <summary>
/// A loaded PaliGemma 2 checkpoint (three ONNX graphs + tokenizer) that turns images and prompt prefixes
/// into text by greedy decoding with a KV cache.
/// </summary>
/// <remarks>
/// Sessions are created once in <see cref="Load"/> and disposed with the model; <see cref="GenerateAsync"/>
/// may be called concurrently (ONNX Runtime sessions are thread-safe, all per-call state is local).
/// Checkpoints whose decoder has an <c>attention_mask</c> input decode a batch together with left padding;
/// onnx-community exports (no mask input) decode one sequence at a time.
/// </remarks>
public sealed class PaliGemmaModel : IDisposable
{
    private readonly GraphSet _graphs;
    private readonly ILogger _logger;
    private readonly PaliGemmaLoadOptions _options;
    private readonly OrtMemoryInfo? _deviceMemory;
    private bool _disposed;

    private PaliGemmaModel(CheckpointInfo info, GemmaTokenizer tokenizer, GraphSet graphs, PaliGemmaLoadOptions options, ILogger logger)
    {
        Info = info;
        Tokenizer = tokenizer;
        _graphs = graphs;
        _options = options;
        _logger = logger;
        Preprocessor = new ImagePreprocessor(info);
        if (graphs.Provider == "CUDA")
        {
            // present.* outputs are bound here so the cache stays on the GPU between steps.
            _deviceMemory = new OrtMemoryInfo("Cuda", OrtAllocatorType.DeviceAllocator, options.CudaDeviceId, OrtMemType.Default);
        }
    }

    /// <summary>What the checkpoint declares.</summary>
    public CheckpointInfo Info { get; }

    /// <summary>The checkpoint's tokenizer.</summary>
    public GemmaTokenizer Tokenizer { get; }

    /// <summary>The image preprocessing used for this checkpoint.</summary>
    public ImagePreprocessor Preprocessor { get; }

    /// <summary>The execution provider the sessions run on: <c>"CUDA"</c> or <c>"CPU"</c>.</summary>
    public string ExecutionProvider => _graphs.Provider;

    /// <summary>True when the decoder takes an attention mask, so several sequences decode together.</summary>
    public bool SupportsBatching => _graphs.HasAttentionMask;

    /// <summary>First id that is never emitted: the image token, which follows the text vocabulary.</summary>
    public int VocabularyLimit => Math.Min(Info.ImageTokenIndex, _graphs.LogitsVocab > 0 ? _graphs.LogitsVocab : Info.VocabSize);

    /// <summary>Loads a checkpoint directory (DESIGN section 5 layout; graphs may sit under <c>onnx/</c>).</summary>
    /// <param name="directory">The checkpoint directory.</param>
    /// <param name="logger">Receives the execution-provider choice and the CUDA fallback warning.</param>
    /// <param name="options">Execution options; defaults prefer CUDA.</param>
    /// <exception cref="CheckpointException">The directory is missing files or they do not fit together.</exception>
    public static PaliGemmaModel Load(string directory, ILogger? logger = null, PaliGemmaLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(directory);
        logger ??= NullLogger.Instance;
        options ??= new PaliGemmaLoadOptions();
        if (!System.IO.Directory.Exists(directory))
        {
            throw new CheckpointException($"Checkpoint directory '{directory}' does not exist.");
        }

        var info = CheckpointInfo.Read(directory);
        GemmaTokenizer tokenizer;
        try
        {
            tokenizer = GemmaTokenizer.LoadFrom(directory);
        }
        catch (FileNotFoundException)
        {
            throw new CheckpointException($"Checkpoint '{directory}' has no tokenizer.json or tokenizer.model.");
        }
        catch (Exception ex) when (ex is InvalidDataException or ArgumentException or InvalidOperationException or NotSupportedException)
        {
            throw new CheckpointException($"Checkpoint '{directory}': the tokenizer could not be read: {ex.Message}", ex);
        }

        if (tokenizer.VocabularySize > info.VocabSize || info.ImageTokenIndex >= info.VocabSize)
        {
            throw new CheckpointException($"Checkpoint '{directory}': {tokenizer.Source} has {tokenizer.VocabularySize} ids and image_token_index is {info.ImageTokenIndex}, but config.json vocab_size is {info.VocabSize}.");
        }

        if (tokenizer.EosId != 1 || tokenizer.BosId != 2)
        {
            throw new CheckpointException($"Checkpoint '{directory}': {tokenizer.Source} has <eos>={tokenizer.EosId}, <bos>={tokenizer.BosId}; Gemma needs 1 and 2.");
        }

        var graphs = GraphSet.Open(info, options, logger);
        var model = new PaliGemmaModel(info, tokenizer, graphs, options, logger);
        Log.Loaded(logger, info.Name, info.Version, info.Resolution, info.NumLayers, graphs.Provider, graphs.HasAttentionMask);
        return model;
    }

    /// <summary>Builds the text part of a prompt: <c>&lt;bos&gt;</c> + prefix + <c>\n</c> (image tokens go before it).</summary>
    public int[] BuildPromptIds(string promptPrefix)
    {
        var prefix = Tokenizer.Encode(promptPrefix);
        var ids = new int[prefix.Count + 2];
        ids[0] = Tokenizer.BosId;
        for (var i = 0; i < prefix.Count; i++)
        {
            ids[i + 1] = prefix[i];
        }

        ids[^1] = Tokenizer.NewlineId;
        return ids;
    }

    /// <summary>Generates text for each request (greedy, until <c>&lt;eos&gt;</c> or the token limit).</summary>
    /// <param name="requests">Images and prompt prefixes; results come back in the same order.</param>
    /// <param name="cancellationToken">Cancels between steps and interrupts a running ONNX Runtime call.</param>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    public Task<IReadOnlyList<GenerationResult>> GenerateAsync(IReadOnlyList<GenerationRequest> requests, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(requests);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (requests.Count == 0)
        {
            return Task.FromResult<IReadOnlyList<GenerationResult>>([]);
        }

        return Task.Run<IReadOnlyList<GenerationResult>>(
            () =>
            {
                var batchSize = SupportsBatching ? Math.Max(1, _options.MaxBatchSize) : 1;
                var results = new List<GenerationResult>(requests.Count);
                for (var start = 0; start < requests.Count; start += batchSize)
                {
                    var batch = requests.Skip(start).Take(batchSize).ToArray();
                    results.AddRange(GenerateBatch(batch, cancellationToken));
                }

                return results;
            },
            cancellationToken);
    }

    /// <summary>Disposes the ONNX Runtime sessions.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _graphs.Dispose();
        _deviceMemory?.Dispose();
    }

    private GenerationResult[] GenerateBatch(GenerationRequest[] batch, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        var g = _graphs;
        var total = Stopwatch.StartNew();
        var b = batch.Length;
        var n = Info.NumImageTokens;
        var h = Info.HiddenSize;
        var r = Info.Resolution;
        var ortTime = TimeSpan.Zero;
        using var runOptions = new RunOptions();
        using var registration = ct.Register(static s => ((RunOptions)s!).Terminate = true, runOptions);

        // Preprocess straight into the ORT-owned pixel tensor (via a pooled float row for float16 graphs).
        var t0 = Stopwatch.GetTimestamp();
        using var pixels = OrtTensors.Allocate(g.VisionInputType, [b, 3, r, r], clear: false);
        var per = Preprocessor.ImageElementCount;
        var scratch = ArrayPool<float>.Shared.Rent(Math.Max(per, VocabularyLimit));
        try
        {
            for (var i = 0; i < b; i++)
            {
                if (g.VisionInputType == TensorElementType.Float)
                {
                    Preprocessor.Process(batch[i], pixels.GetTensorMutableDataAsSpan<float>().Slice(i * per, per));
                }
                else
                {
                    Preprocessor.Process(batch[i], scratch.AsSpan(0, per));
                    OrtTensors.Write(scratch.AsSpan(0, per), pixels, g.VisionInputType, i * per);
                }
            }

            var preprocess = Stopwatch.GetElapsedTime(t0);

            // Encode: image features and prompt-token embeddings, then lay them out with left padding:
            // [pad .. pad][image x N][bos prefix \n].
            t0 = Stopwatch.GetTimestamp();
            var prompts = batch.Select(q => BuildPromptIds(q.PromptPrefix)).ToArray();
            var tmax = prompts.Max(p => p.Length);
            var length = n + tmax;
            var textIds = new long[b * tmax]; // pad id 0 on the left
            for (var i = 0; i < b; i++)
            {
                var offset = (i * tmax) + tmax - prompts[i].Length;
                for (var k = 0; k < prompts[i].Length; k++)
                {
                    textIds[offset + k] = prompts[i][k];
                }
            }

            using var embeds = OrtTensors.Allocate(g.EmbedsType, [b, length, h], clear: false); // every row is written below
            using (var features = Run(g.Vision, [g.VisionInput], [pixels], [g.VisionOutput], runOptions, ct, ref ortTime))
            using (var ids = OrtValue.CreateTensorValueFromMemory(textIds, [b, tmax]))
            using (var text = Run(g.Embed, [g.EmbedInput], [ids], [g.EmbedOutput], runOptions, ct, ref ortTime))
            {
                var featureShape = features[0].GetTensorTypeAndShape().Shape;
                if (featureShape.Length != 3 || featureShape[1] != n || featureShape[2] != h)
                {
                    throw new InvalidOperationException($"vision_encoder returned [{string.Join(",", featureShape)}], expected [{b},{n},{h}].");
                }

                for (var i = 0; i < b; i++)
                {
                    var pad = tmax - prompts[i].Length;

                    // Left padding carries <pad>'s embedding, as in HF; the mask must hide it.
                    OrtTensors.Copy(text[0], g.EmbedOutputType, i * tmax * h, embeds, g.EmbedsType, i * length * h, pad * h);
                    OrtTensors.Copy(features[0], g.VisionOutputType, i * n * h, embeds, g.EmbedsType, ((i * length) + pad) * h, n * h);
                    OrtTensors.Copy(text[0], g.EmbedOutputType, ((i * tmax) + pad) * h, embeds, g.EmbedsType, ((i * length) + pad + n) * h, prompts[i].Length * h);
                }
            }

            var pads = prompts.Select(p => tmax - p.Length).ToArray();
            var encode = Stopwatch.GetElapsedTime(t0);

            // Prefill: the whole prompt in one call; the graph makes it bidirectional (prefix-LM).
            t0 = Stopwatch.GetTimestamp();
            var positions = new long[b * length];
            for (var i = 0; i < b; i++)
            {
                var row = positions.AsSpan(i * length, length);
                row[..pads[i]].Fill(1);
                for (var k = pads[i]; k < length; k++)
                {
                    row[k] = k - pads[i] + 1; // 1-based, as in HF exports
                }
            }

            var past = new OrtValue[g.PastNames.Length];
            for (var k = 0; k < past.Length; k++)
            {
                past[k] = OrtTensors.Allocate(g.KvType, [b, Info.NumKeyValueHeads, 0, Info.HeadDim], clear: false);
            }

            var limit = VocabularyLimit;
            var stopIds = Info.StopIds;
            var maxNew = batch.Select(q => Math.Max(1, q.MaxNewTokens ?? Info.MaxNewTokens)).ToArray();
            var outputs = batch.Select(_ => new List<int>()).ToArray();
            var stops = new StopReason[b];
            var done = new bool[b];
            var next = new long[b];
            var steps = new List<TimeSpan>();
            TimeSpan prefill = default;

            // Greedy choice on the last position of each row; finished rows keep feeding <pad>.
            void Pick(OrtValue logits, int rows, int limit, float[] buffer)
            {
                var vocab = (int)logits.GetTensorTypeAndShape().Shape[2];
                for (var i = 0; i < b; i++)
                {
                    if (done[i])
                    {
                        next[i] = Tokenizer.PadId;
                        continue;
                    }

                    var token = OrtTensors.ArgMax(logits, g.LogitsType, ((i * rows) + rows - 1) * vocab, limit, buffer);
                    outputs[i].Add(token);
                    next[i] = token;
                    if (stopIds.Contains(token))
                    {
                        done[i] = true;
                        stops[i] = StopReason.EndOfSequence;
                    }
                    else if (outputs[i].Count >= maxNew[i])
                    {
                        done[i] = true;
                        stops[i] = StopReason.MaxNewTokens;
                    }
                }
            }

            try
            {
                var logits = RunDecoder(embeds, [b, length], pads, positions, past, runOptions, ct, ref ortTime);
                using (logits)
                {
                    // Exports may return logits for every position or only the last (tools/export_paligemma2.py --logits last):
                    // read the sequence length from the tensor, not from the prompt.
                    Pick(logits, (int)logits.GetTensorTypeAndShape().Shape[1], limit, scratch);
                }

                prefill = Stopwatch.GetElapsedTime(t0);
                var last = new long[b];
                for (var i = 0; i < b; i++)
                {
                    last[i] = length - pads[i];
                }

                var totalLength = length;
                while (Array.IndexOf(done, false) >= 0)
                {
                    ct.ThrowIfCancellationRequested();
                    t0 = Stopwatch.GetTimestamp();
                    totalLength++;
                    for (var i = 0; i < b; i++)
                    {
                        last[i]++;
                    }

                    // `next` and `last` are pinned only for the duration of the runs below, so they are reused.
                    using var stepIds = OrtValue.CreateTensorValueFromMemory(next, [b, 1]);
                    using var stepEmbeds = Run(g.Embed, [g.EmbedInput], [stepIds], [g.EmbedOutput], runOptions, ct, ref ortTime);
                    using var converted = g.EmbedOutputType == g.EmbedsType ? null : OrtTensors.Allocate(g.EmbedsType, [b, 1, h], clear: false);
                    if (converted is not null)
                    {
                        OrtTensors.Copy(stepEmbeds[0], g.EmbedOutputType, 0, converted, g.EmbedsType, 0, b * h);
                    }

                    using var stepLogits = RunDecoder(converted ?? stepEmbeds[0], [b, totalLength], pads, last, past, runOptions, ct, ref ortTime);
                    Pick(stepLogits, 1, limit, scratch);
                    steps.Add(Stopwatch.GetElapsedTime(t0));
                }
            }
            finally
            {
                foreach (var value in past)
                {
                    value.Dispose();
                }
            }

            var timings = new GenerationTimings(preprocess, encode, prefill, steps, ortTime, total.Elapsed);
            Log.Generated(_logger, b, prefill.TotalMilliseconds, steps.Count, total.Elapsed.TotalMilliseconds);
            var results = new GenerationResult[b];
            for (var i = 0; i < b; i++)
            {
                var ids = outputs[i];
                // Every generated id goes through the decode, stop id included: HF decodes generate()'s output the
                // same way, and skip_special_tokens drops <eos> while a stop id that is ordinary text stays.
                results[i] = new GenerationResult(Tokenizer.Decode(ids), ids.ToArray(), n + prompts[i].Length, stops[i], timings);
            }

            return results;
        }
        finally
        {
            ArrayPool<float>.Shared.Return(scratch);
        }

    }

    /// <summary>One decoder call. Replaces <paramref name="past"/> with the new present.* values and returns the logits.</summary>
    private OrtValue RunDecoder(OrtValue inputsEmbeds, long[] maskShape, int[] pads, long[] positions, OrtValue[] past, RunOptions runOptions, CancellationToken ct, ref TimeSpan ortTime)
    {
        var g = _graphs;
        var b = (int)maskShape[0];
        var total = (int)maskShape[1];
        var seq = positions.Length / b;
        var names = g.DecoderInputs;
        var values = new OrtValue[names.Length];
        var slot = 0;
        values[slot++] = inputsEmbeds;
        OrtValue? maskValue = null, positionValue = null, branchValue = null;
        try
        {
            if (g.HasAttentionMask)
            {
                // Left padding is the only masked region: zeros for each row's pads, ones after.
                var mask = new long[b * total];
                mask.AsSpan().Fill(1);
                for (var i = 0; i < b; i++)
                {
                    mask.AsSpan(i * total, pads[i]).Clear();
                }

                maskValue = OrtValue.CreateTensorValueFromMemory(mask, maskShape);
                values[slot++] = maskValue;
            }
            else if (b != 1 || pads[0] != 0)
            {
                throw new InvalidOperationException("A decoder without an attention_mask input can only run one unpadded sequence.");
            }

            if (g.HasPositionIds)
            {
                positionValue = OrtValue.CreateTensorValueFromMemory(positions, [b, seq]);
                values[slot++] = positionValue;
            }

            if (g.HasCacheBranch)
            {
                branchValue = OrtValue.CreateTensorValueFromMemory(new[] { past[0].GetTensorTypeAndShape().Shape[2] > 0 }, [1]);
                values[slot++] = branchValue;
            }

            past.CopyTo(values, slot);

            OrtValue[] results;
            var t0 = Stopwatch.GetTimestamp();
            try
            {
                if (_deviceMemory is null)
                {
                    results = [.. g.Decoder.Run(runOptions, names, values, g.DecoderOutputs)];
                }
                else
                {
                    using var binding = g.Decoder.CreateIoBinding();
                    for (var k = 0; k < names.Length; k++)
                    {
                        binding.BindInput(names[k], values[k]);
                    }

                    binding.BindOutputToDevice("logits", OrtMemoryInfo.DefaultInstance);
                    for (var k = 1; k < g.DecoderOutputs.Length; k++)
                    {
                        binding.BindOutputToDevice(g.DecoderOutputs[k], _deviceMemory);
                    }

                    g.Decoder.RunWithBinding(runOptions, binding);
                    binding.SynchronizeBoundOutputs();
                    results = [.. binding.GetOutputValues()];
                }
            }
            catch (OnnxRuntimeException) when (ct.IsCancellationRequested)
            {
                throw new OperationCanceledException(ct);
            }
            finally
            {
                ortTime += Stopwatch.GetElapsedTime(t0);
            }

            for (var k = 0; k < past.Length; k++)
            {
                past[k].Dispose();
                past[k] = results[k + 1];
            }

            return results[0];
        }
        finally
        {
            maskValue?.Dispose();
            positionValue?.Dispose();
            branchValue?.Dispose();
        }
    }

    private static IDisposableReadOnlyCollection<OrtValue> Run(InferenceSession session, string[] inputNames, OrtValue[] inputs, string[] outputNames, RunOptions runOptions, CancellationToken ct, ref TimeSpan ortTime)
    {
        var t0 = Stopwatch.GetTimestamp();
        try
        {
            return session.Run(runOptions, inputNames, inputs, outputNames);
        }
        catch (OnnxRuntimeException) when (ct.IsCancellationRequested)
        {
            throw new OperationCanceledException(ct);
        }
        finally
        {
            ortTime += Stopwatch.GetElapsedTime(t0);
        }
    }
}
