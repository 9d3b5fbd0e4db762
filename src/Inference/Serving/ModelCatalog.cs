using System.Diagnostics.Metrics;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PaliGemma2.DocPipeline.Contracts;
using PaliGemma2.DocPipeline.Pipeline.State;
using PaliGemma2.DocPipeline.ServiceDefaults;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace PaliGemma2.DocPipeline.Inference.Serving;

/// <summary>A checkpoint loaded in this process, with what results must record about it.</summary>
public sealed record LoadedCheckpoint(string Task, string Name, string Version, string PromptPrefix, int MaxNewTokens, PaliGemmaModel Model);

/// <summary>
/// The models this process serves, loaded once (one ONNX Runtime session per graph) and disposed with the host.
/// Loading runs in the background so the process answers its health probes meanwhile; only once every model has
/// loaded and run a warm-up batch are the <c>infer-&lt;task&gt;</c> endpoints connected to the bus, and only then
/// is the process ready (<see cref="ModelsReadyHealthCheck"/>): a scaled-up worker takes no message it cannot run yet.
/// A model that fails to load stops the process (exit code 1).
/// </summary>
public sealed class ModelCatalog(
    IServiceScopeFactory scopes,
    IReceiveEndpointConnector endpoints,
    IOptions<InferenceOptions> options,
    IHostApplicationLifetime lifetime,
    IMeterFactory meters,
    ILoggerFactory loggers) : IHostedService, IDisposable
{
    private readonly Dictionary<string, LoadedCheckpoint> _models = new(StringComparer.Ordinal);
    private readonly ILogger _logger = loggers.CreateLogger<ModelCatalog>();
    private readonly CancellationTokenSource _stopping = new();
    private Task _loading = Task.CompletedTask;
    private volatile bool _ready;

    /// <summary>Every model loaded, warmed up, and its queue connected.</summary>
    public bool IsReady => _ready;

    /// <summary>The model serving <paramref name="task"/>.</summary>
    public LoadedCheckpoint Get(string task) =>
        _models.TryGetValue(task, out var m) ? m : throw new InvalidOperationException($"This worker does not serve task '{task}'.");

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken)
    {
        // GPU memory is what a serving process runs out of; the gauges exist only where an NVIDIA driver is.
        var devices = GpuMemory.Observe(meters.Create(ServiceDefaultsExtensions.TelemetryName));
        _logger.LogInformation("GPU memory metrics: {Devices} device(s) seen through NVML", devices);

        // Started after the bus (registered after MassTransit's hosted service), so endpoints can be connected.
        _loading = Task.Run(() => LoadAsync(_stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    private async Task LoadAsync(CancellationToken ct)
    {
        try
        {
            foreach (var (task, configured) in options.Value.Tasks)
            {
                await LoadOneAsync(task, configured, ct).ConfigureAwait(false);
            }

            foreach (var task in options.Value.Tasks.Keys)
            {
                var handle = endpoints.ConnectReceiveEndpoint(TaskNames.QueueOf(task), (context, e) => e.ConfigureConsumer<InferenceConsumer>(context));
                await handle.Ready.WaitAsync(ct).ConfigureAwait(false);
            }

            _ready = true;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            _logger.LogCritical(ex, "Loading the models failed; stopping");
            Environment.ExitCode = 1;
            lifetime.StopApplication();
        }
    }

    private async Task LoadOneAsync(string task, string configured, CancellationToken ct)
    {
        var directory = configured;
        if (string.IsNullOrWhiteSpace(directory))
        {
            await using var scope = scopes.CreateAsyncScope();
            var active = await scope.ServiceProvider.GetRequiredService<CheckpointRegistry>().ActiveAsync(task, ct).ConfigureAwait(false)
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
        lock (_models)
        {
            _models[task] = new LoadedCheckpoint(task, info.Name, info.Version, info.PromptPrefix, info.MaxNewTokens, model);
        }

        // Warm-up: the first Run allocates arenas and picks kernels; do it before taking work.
        using var blank = new Image<Rgb24>(info.Resolution, info.Resolution, Color.White);
        await model.GenerateAsync([new GenerationRequest(blank, info.PromptPrefix, 2)], ct).ConfigureAwait(false);
        _logger.LogInformation("Serving {Task} with {Checkpoint} {Version} on {Provider}", task, info.Name, info.Version, model.ExecutionProvider);
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _loading.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var m in _models.Values)
        {
            m.Model.Dispose();
        }

        _models.Clear();
        _stopping.Dispose();
    }
}

/// <summary>Ready once <see cref="ModelCatalog.IsReady"/>: a probe that keeps a worker out of rotation while it loads.</summary>
public sealed class ModelsReadyHealthCheck(ModelCatalog models) : IHealthCheck
{
    /// <inheritdoc />
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(models.IsReady ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy("Models are loading or warming up."));
}
