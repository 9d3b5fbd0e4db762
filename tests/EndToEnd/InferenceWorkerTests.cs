using PaliGemma2.DocPipeline.Tests.Shared;

namespace PaliGemma2.DocPipeline.EndToEnd;

/// <summary>
/// The inference stage as its own worker processes over real RabbitMQ and PostgreSQL, running the
/// bundled toy checkpoint on CPU.
/// </summary>
public sealed class InferenceWorkerTests : IAsyncLifetime
{
    private Dictionary<string, string> _env = null!;
    private string _root = null!;
    private string _postgres = null!;
    private Uri _rabbit = null!;

    public async Task InitializeAsync()
    {
        _root = TestServices.NewTempDirectory("infer");
        (_env, _rabbit, _postgres) = await ServiceProcess.DistributedEnvironmentAsync("infer", _root);
        _env["Preparation__DefaultResolution"] = "224";
        _env["Inference__BatchSize"] = "4";
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_root, recursive: true);
        return Task.CompletedTask;
    }

    private static string Demo(string task) => Path.Combine(TestServices.RepoRoot, "models", "demo", task);

    private ServiceProcess StartPreparation() => ServiceProcess.Start(ServiceProcess.Dll("Worker", "PaliGemma2.DocPipeline.Worker"),
        new Dictionary<string, string>(_env) { ["Intake__DropFolder"] = Path.Combine(_root, "inbox"), ["Intake__StableFor"] = "00:00:00.300" });

    private ServiceProcess StartInference(string task, string name, int batchSize = 4) => ServiceProcess.Start(ServiceProcess.Dll("InferenceWorker", "PaliGemma2.DocPipeline.InferenceWorker"),
        new Dictionary<string, string>(_env)
        {
            [$"Inference__Tasks__{task}"] = Demo(task),
            ["Inference__WorkerName"] = name,
            ["Inference__BatchSize"] = batchSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });

    private void Drop(string corpusPdf, string task, string? name = null)
    {
        var folder = Path.Combine(_root, "inbox", task);
        Directory.CreateDirectory(folder);
        File.Copy(TestServices.CorpusFile("pdf", corpusPdf), Path.Combine(folder, "." + (name ?? corpusPdf)));
        File.Move(Path.Combine(folder, "." + (name ?? corpusPdf)), Path.Combine(folder, name ?? corpusPdf));
    }

    [Fact]
    public async Task A_dropped_pdf_ends_with_one_result_per_page_even_when_the_worker_is_killed_mid_batch()
    {
        await using var prepare = StartPreparation();
        var worker = StartInference("table", "gpu-a");
        Drop("tabularx.pdf", "table");         // 12 pages
        Drop("ltxtable.pdf", "table");         // 3 pages

        // Let it get going, then kill it mid-work and start another: redelivered batches must not duplicate.
        Assert.True(await TestServices.EventuallyAsync(async () => await ScalarAsync<long>("select count(*) from results") >= 1, TimeSpan.FromSeconds(120)),
            "no result from the first worker:\n" + worker.Output + "\n---\n" + prepare.Output);
        worker.Kill();
        await worker.DisposeAsync();
        await using var second = StartInference("table", "gpu-b");

        Assert.True(await TestServices.EventuallyAsync(async () => await ScalarAsync<long>("select count(*) from documents where status = 'done'") == 2,
            TimeSpan.FromSeconds(180)), second.Output);

        Assert.Equal(15, await ScalarAsync<long>("select count(*) from pages"));
        Assert.Equal(15, await ScalarAsync<long>("select count(*) from results"));
        Assert.Equal(15, await ScalarAsync<long>("select count(distinct job_id) from results"));
        Assert.Equal(0, await ScalarAsync<long>("select count(*) from jobs j where not exists (select 1 from results r where r.job_id = j.id)"));
        Assert.Equal(15, await ScalarAsync<long>(
            "select count(*) from results where checkpoint = 'demo-toy-paligemma2-table' and checkpoint_version = '0.1.0-demo' " +
            "and prompt_tokens = 256 + 2 and generated_tokens between 1 and 64 and prefill_ms > 0 and decode_ms >= 0 and length(raw_text) > 0"));
        Assert.Equal(15, await ScalarAsync<long>("select count(*) from jobs where status = 'done' and checkpoint_version = 'demo-toy-paligemma2-table@0.1.0-demo' and attempts >= 1"));
        Assert.Equal(0, await ScalarAsync<long>("select count(*) from jobs where worker not in ('gpu-a', 'gpu-b')"));
    }

    [Fact]
    public async Task Two_checkpoints_for_two_tasks_route_to_their_own_queues_and_workers()
    {
        await using var prepare = StartPreparation();
        await using var tables = StartInference("table", "table-worker");
        await using var molecules = StartInference("molecule", "molecule-worker");
        Drop("ltxtable.pdf", "table");
        Drop("upref.pdf", "molecule");

        Assert.True(await TestServices.EventuallyAsync(async () => await ScalarAsync<long>("select count(*) from documents where status = 'done'") == 2,
            TimeSpan.FromSeconds(180)), tables.Output + "\n---\n" + molecules.Output);

        Assert.Equal(3, await ScalarAsync<long>(
            "select count(*) from results r join jobs j on j.id = r.job_id where j.task = 'table' and r.checkpoint = 'demo-toy-paligemma2-table' and j.worker = 'table-worker'"));
        Assert.Equal(2, await ScalarAsync<long>(
            "select count(*) from results r join jobs j on j.id = r.job_id where j.task = 'molecule' and r.checkpoint = 'demo-toy-paligemma2-molecule' and j.worker = 'molecule-worker'"));
        Assert.Equal(5, await ScalarAsync<long>("select count(*) from results"));
    }

    [Fact]
    public async Task SIGTERM_mid_batch_finishes_the_batch_in_hand_and_exits_0_with_nothing_redelivered()
    {
        await using var prepare = StartPreparation();
        // Batches of 6 on CPU take seconds: long enough to signal one while it runs.
        var worker = StartInference("table", "drain-a", batchSize: 6);
        Drop("tabularx.pdf", "table");         // 12 pages

        Assert.True(await TestServices.EventuallyAsync(async () =>
            await ScalarAsync<long>("select count(*) from jobs where status = 'running' and worker = 'drain-a'") > 0, TimeSpan.FromSeconds(120)),
            "the worker never took a batch:\n" + worker.Output + "\n---\n" + prepare.Output);
        var signalled = await ScalarAsync<DateTime>("select now()");
        var inHand = await ScalarAsync<long>("select count(*) from jobs where status = 'running' and worker = 'drain-a'");
        worker.Terminate();
        var exit = await worker.WaitForExitAsync(TimeSpan.FromMinutes(3));
        var output = worker.Output;
        await worker.DisposeAsync();

        Assert.True(exit == 0, $"exit code {exit}:\n{output}");
        // The batch in hand was finished after the signal, by this worker, and nothing of it is left running.
        Assert.Equal(0, await ScalarAsync<long>("select count(*) from jobs where status = 'running'"));
        Assert.True(await ScalarAsync<long>(
            $"select count(*) from jobs where worker = 'drain-a' and status = 'done' and finished_at >= '{signalled:O}'") >= inHand,
            $"the batch in hand ({inHand} job(s)) was not finished after SIGTERM:\n{output}");

        // Another worker takes what was still queued; every page was run once: no redelivery, no duplicate.
        await using var second = StartInference("table", "drain-b");
        Assert.True(await TestServices.EventuallyAsync(async () => await ScalarAsync<long>("select count(*) from documents where status = 'done'") == 1,
            TimeSpan.FromSeconds(180)), second.Output);
        Assert.Equal(12, await ScalarAsync<long>("select count(*) from results"));
        Assert.Equal(12, await ScalarAsync<long>("select count(distinct job_id) from results"));
        Assert.Equal(0, await ScalarAsync<long>("select count(*) from jobs where attempts <> 1"));
        Assert.True(await TestServices.EventuallyAsync(async () => await QueueDepthAsync("infer-table") == 0, TimeSpan.FromSeconds(30)),
            "messages left on infer-table");
    }

    /// <summary>Messages waiting on the queue, as the broker counts them.</summary>
    private async Task<uint> QueueDepthAsync(string queue)
    {
        var factory = new RabbitMQ.Client.ConnectionFactory { Uri = _rabbit };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        var ok = await channel.QueueDeclarePassiveAsync(queue);
        return ok.MessageCount;
    }

    private Task<T?> ScalarAsync<T>(string sql) => TestServices.ScalarAsync<T>(_postgres, sql);
}
