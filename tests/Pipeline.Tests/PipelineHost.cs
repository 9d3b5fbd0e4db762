using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using PaliGemma2.DocPipeline.Inference.Serving;
using PaliGemma2.DocPipeline.Pipeline.Hosting;
using PaliGemma2.DocPipeline.Pipeline.Intake;
using PaliGemma2.DocPipeline.Storage;
using PaliGemma2.DocPipeline.Storage.Entities;
using PaliGemma2.DocPipeline.Tests.Shared;

namespace PaliGemma2.DocPipeline.Pipeline.Tests;

/// <summary>The pipeline hosted in-process, distributed (RabbitMQ + PostgreSQL) or embedded (in-memory + SQLite).</summary>
public sealed class PipelineHost : IAsyncDisposable
{
    private readonly IHost _host;

    private PipelineHost(IHost host, string root, Uri? rabbit)
    {
        _host = host;
        Root = root;
        RabbitUri = rabbit;
    }

    public string Root { get; }

    public string Inbox => Path.Combine(Root, "inbox");

    public string SharedRoot => Path.Combine(Root, "shared");

    public Uri? RabbitUri { get; }

    public IServiceProvider Services => _host.Services;

    public static async Task<PipelineHost> StartDistributedAsync(string name, IReadOnlyDictionary<string, string?>? extra = null)
    {
        var rabbit = await TestServices.CreateVirtualHostAsync(name);
        var postgres = await TestServices.CreateDatabaseAsync(name.Replace('-', '_'));
        var settings = new Dictionary<string, string?>
        {
            ["Pipeline:Transport"] = "RabbitMq",
            ["ConnectionStrings:RabbitMq"] = rabbit.ToString(),
            ["Storage:Provider"] = "Postgres",
            ["ConnectionStrings:Postgres"] = postgres,
        };
        foreach (var (k, v) in extra ?? new Dictionary<string, string?>())
        {
            settings[k] = v;
        }

        return await StartAsync(name, rabbit, settings);
    }

    public static Task<PipelineHost> StartEmbeddedAsync(string name) =>
        StartAsync(name, null, new()
        {
            ["Pipeline:Transport"] = "InMemory",
            ["Storage:Provider"] = "Sqlite",
        });

    private static async Task<PipelineHost> StartAsync(string name, Uri? rabbit, Dictionary<string, string?> settings)
    {
        var root = TestServices.NewTempDirectory(name);
        settings["Storage:BlobRoot"] = Path.Combine(root, "blobs");
        settings.TryAdd("ConnectionStrings:Sqlite", $"Data Source={Path.Combine(root, "docpipe.db")}");
        settings["Intake:DropFolder"] = Path.Combine(root, "inbox");
        settings["Intake:SharedRoot"] = Path.Combine(root, "shared");
        settings["Intake:PollInterval"] = "00:00:00.100";
        settings["Intake:StableFor"] = "00:00:00.300";
        settings["Preparation:ScratchRoot"] = Path.Combine(root, "scratch");
        Directory.CreateDirectory(Path.Combine(root, "shared"));
        Directory.CreateDirectory(Path.Combine(root, "scratch"));

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddDocPipeline(builder.Configuration, bus => bus.AddInferenceConsumers(builder.Configuration));
        builder.Services.AddInferenceServing(builder.Configuration);
        var host = builder.Build();
        await host.StartAsync();
        return new PipelineHost(host, root, rabbit);
    }

    public async Task<T> WithDbAsync<T>(Func<DocPipelineDbContext, Task<T>> work)
    {
        await using var scope = Services.CreateAsyncScope();
        return await work(scope.ServiceProvider.GetRequiredService<DocPipelineDbContext>());
    }

    public async Task<IntakeResult> IngestAsync(string path, string task)
    {
        await using var scope = Services.CreateAsyncScope();
        var intake = scope.ServiceProvider.GetRequiredService<DocumentIntake>();
        return await intake.IngestFileAsync(path, move: false, task, Sources.Cli, fileName: null, CancellationToken.None);
    }

    /// <summary>Waits until every listed document has left received/preparing; returns them with pages.</summary>
    public async Task<List<Document>> WaitPreparedAsync(IReadOnlyCollection<Guid> ids, TimeSpan timeout)
    {
        List<Document> docs = [];
        await TestServices.EventuallyAsync(async () =>
        {
            docs = await WithDbAsync(db => db.Documents.AsNoTracking().Include(d => d.Pages).ThenInclude(p => p.Jobs)
                .Where(d => ids.Contains(d.Id)).ToListAsync());
            return docs.Count == ids.Count && docs.All(d => d.Status is not (DocumentStatus.Received or DocumentStatus.Preparing));
        }, timeout);
        return docs;
    }

    /// <summary>Writes a file into inbox/&lt;task&gt;/ the way a careful writer does: stage under a dot name, then rename.</summary>
    public string Drop(string source, string task, string? name = null)
    {
        var folder = Path.Combine(Inbox, task);
        Directory.CreateDirectory(folder);
        var target = Path.Combine(folder, name ?? Path.GetFileName(source));
        var staging = Path.Combine(folder, "." + Guid.NewGuid().ToString("N"));
        File.Copy(source, staging);
        File.Move(staging, target);
        return target;
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
