using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PaliGemma2.DocPipeline.Inference;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace PaliGemma2.DocPipeline.Pipeline.Workers;

/// <summary>A checkpoint loaded in this process, with what results must record about it.</summary>
public sealed record LoadedCheckpoint(string Task, string Name, string Version, string PromptPrefix, int MaxNewTokens, PaliGemmaModel Model);

/// <summary>
/// The models this process serves, loaded once at start-up (one ONNX Runtime session per graph) and
/// disposed with the host. Registered before the bus, so queues are consumed only once every model
/// has loaded and run a warm-up batch: that is the worker's readiness.
/// </summary>
public sealed class ModelCatalog(IServiceScopeFactory scopes, IOptions<InferenceOptions> options, ILoggerFactory loggers)
    : IHostedService, IDisposable
{
    private readonly Dictionary<string, LoadedCheckpoint> _models = new(StringComparer.Ordinal);
    private readonly ILogger _logger = loggers.CreateLogger<ModelCatalog>();

    /// <summary>The model serving <paramref name="task"/>.</summary>
    public LoadedCheckpoint Get(string task) =>
        _models.TryGetValue(task, out var m) ? m : throw new InvalidOperationException($"This worker does not serve task '{task}'.");

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var (task, configured) in options.Value.Tasks)
        {
            var directory = configured;
            if (string.IsNullOrWhiteSpace(directory))
            {
                await using var scope = scopes.CreateAsyncScope();
                var active = await scope.ServiceProvider.GetRequiredService<CheckpointRegistry>().ActiveAsync(task, cancellationToken).ConfigureAwait(false)
                    ?? throw new InvalidOperationException($"Task '{task}' has no active checkpoint: run 'docpipe models add <dir>' first.");
                directory = active.ModelDirectory;
            }

            var model = PaliGemmaModel.Load(directory, loggers.CreateLogger<PaliGemmaModel>(), new PaliGemmaLoadOptions
            {
                PreferCuda = options.Value.PreferCuda,
                RequireCuda = options.Value.RequireCuda,
                MaxBatchSize = Math.Max(1, options.Value.BatchSize),
                IntraOpNumThreads = options.Value.IntraOpThreads,
            });
            var info = model.Info;
            _models[task] = new LoadedCheckpoint(task, info.Name, info.Version, info.PromptPrefix, info.MaxNewTokens, model);

            // Warm-up: the first Run allocates arenas and picks kernels; do it before taking work.
            using var blank = new Image<Rgb24>(info.Resolution, info.Resolution, Color.White);
            await model.GenerateAsync([new GenerationRequest(blank, info.PromptPrefix, 2)], cancellationToken).ConfigureAwait(false);
            _logger.LogInformation("Serving {Task} with {Checkpoint} {Version} on {Provider}", task, info.Name, info.Version, model.ExecutionProvider);
        }

    }

    /// <inheritdoc />
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var m in _models.Values)
        {
            m.Model.Dispose();
        }

        _models.Clear();
    }
}
